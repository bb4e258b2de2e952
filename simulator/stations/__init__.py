"""Simulated dial-in stations: SL 651 RTUs, HJ 212 monitors and 4G DTU sites that connect to the hub like real ones."""

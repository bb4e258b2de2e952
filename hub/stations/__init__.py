"""The station gateway: field stations that dial in over TCP and speak their own protocol.

SL 651-2014 hydrological RTUs, HJ 212-2017 environmental monitors and 4G DTUs
with registration and heartbeat packets connect to the hub; one folder per
protocol turns their bytes into the same readings as the rest of the pipeline.
"""

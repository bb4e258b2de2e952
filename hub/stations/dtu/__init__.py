"""4G DTUs: registration and heartbeat packets, and Modbus RTU polled through the DTU's connection."""

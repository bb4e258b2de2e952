"""DL/T 645 energy meters driver (2007 and 1997 editions): RS-485 lines and serial servers over TCP.

``link``     one line: one request at a time, wake-up bytes, frame resync, timeouts -> quality codes
``poller``   one meter: one read per data identifier, BCD decoded per profile, quarantine of a dead meter
``meters``   the node's lines and meters, address discovery and the broadcast time command

The frame codec is shared with the simulator (:mod:`citysense.dlt645`); the
profile schema is :mod:`citysense.profiles.dlt645`.
"""

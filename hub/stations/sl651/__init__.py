"""SL 651-2014 (水文监测数据通信规约): hydrological RTUs that dial in to the central station.

Modules, each with one job:

* :mod:`.crc` — the standard's CRC16 (clause 6.3.3: polynomial 0xA001 reflected, init 0xFFFF);
* :mod:`.codes` — control characters, function codes, station classes;
* :mod:`.elements` — the element identifier table (Appendix C) with units and default data definitions;
* :mod:`.bcd` — BCD numbers, "no data" fill values and China Standard Time;
* :mod:`.frames` — one frame's header and body in the HEX/BCD and the ASCII encoding;
* :mod:`.body` / :mod:`.asciibody` — a report body's elements turned into observations;
* :mod:`.answers` — the answers to downlink commands (clock, parameters, real-time values);
* :mod:`.images` — multi-packet (SYN/ETB) reassembly of image reports (36H);
* :mod:`.framer` — the per-connection byte stream: resynchronisation, size limits, events;
* :mod:`.downlink` — the central station's confirmations and commands;
* :mod:`.protocol` — :class:`Sl651Protocol`, the gateway's entry point.

The element codes, transmission modes and refusal reasons are documented for
operators in ``docs/stations-sl651.md``.
"""

"""HJ 212-2017 (and HJ/T 212-2005) environmental data transmission: framing, data segment, commands."""

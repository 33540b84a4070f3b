"""The regional RTMS gateway: claims streams with leases, holds their sockets, writes their transcripts."""

"""The simulated RTMS signaling and media WebSocket servers (zoom-protocol.md §2, §3, §7.5-7.6).

Routes on zoomsim's port (and on the TLS port when TLS is on):
  /rtms-<dc>/<generation>/signaling      the server_urls of meeting.rtms_started
  /rtms-<dc>/<generation>/media/<type>   type: audio video transcript deskshare chat all
A failover bumps the stream's generation: upgrades to a generation that is no longer live are refused
(HTTP 404) and existing sockets of the old generation are dropped.

`server.RtmsServer` wires the parts together; each other module here has one job.
"""

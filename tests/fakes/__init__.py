"""Protocol-level fakes of the HTTP APIs the responder talks to, served on loopback."""

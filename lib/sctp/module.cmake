# sources of lib/sctp

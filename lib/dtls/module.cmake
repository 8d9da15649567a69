# sources of lib/dtls

# sources of lib/sdp

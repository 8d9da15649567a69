# sources of lib/datachannel

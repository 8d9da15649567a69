# sources of lib/pc

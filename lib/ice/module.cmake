# sources of lib/ice

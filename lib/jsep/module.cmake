# sources of lib/jsep

# sources of lib/loop

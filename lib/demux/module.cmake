# sources of lib/demux

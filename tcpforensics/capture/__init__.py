"""Packet capture reading: pcap/pcapng block walking, vectorized decoding, tshark engine."""

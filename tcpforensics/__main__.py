"""``python -m tcpforensics``: same as the console script."""

from tcpforensics.cli import main

main()

"""What the command-line tools run, importable: ``tools/`` scripts are thin
wrappers around these ``main(argv)`` functions."""

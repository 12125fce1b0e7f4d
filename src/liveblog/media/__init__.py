"""Photos: intake and renditions; where their bytes are kept."""

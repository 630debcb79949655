"""Every plot and file writer of the library: stroke drawings (SVG/PNG), attention heatmaps, image grids
and training curves. Matplotlib is imported inside the functions that need it, so importing a model never
pulls it in."""

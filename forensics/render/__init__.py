"""Page rendering: turn recovered jobs into page images (DESIGN.md, "decoded content").

One page model (``RenderedPage``) for every format; one module per renderer, registering itself
by subclassing ``PageRenderer`` (``forensics/render/base.py``).
"""

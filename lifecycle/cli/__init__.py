"""``fluidlc``: the command line, the top of the house. Each sub-command's module wires flags to
the layer it drives; ``main`` assembles them."""

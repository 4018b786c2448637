"""latens' tool: what a person runs on their own images.

`latens-select` (`cli`, `folder`) reads a folder (`images`) into an output
folder it owns (`outdir`); `latens.choose` takes images held in memory; both
choose through `choice`, the one code path, and draw with `plots`. Built on
the core library (`latens`), never on the research harness
(`latens.research`).
"""

"""Chinese-address text layer: safe cleaning, normalization, numerals, the gazetteer and the parser.

Pure functions, no I/O beyond reading the packaged gazetteer data once. Import the submodules directly
(``from geoalign.address.normalize import normalize``); this package imports nothing eagerly so that
``import geoalign.address.clean`` stays cheap.
"""

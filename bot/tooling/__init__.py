"""Tools around the product, not part of it: demo data and running stacks for tests and benches.

Owns: `bot.tooling.demo` (a year of realistic enterprises and tickets, `make demo`) and `bot.tooling.stack`
(start whole instances or two-instance clusters on free ports). The top layer: may import everything;
nothing in the product imports it.
"""

"""Tracked tickets: the window's 即日办、日调度、周推进、月总结 in software."""

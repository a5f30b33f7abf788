"""Figures for inspecting NNCLR representations (nearest-neighbour grids)."""
from .neighbor_grid import (
    draw_neighbor_grid,
    grid_figure_size,
    header_height,
    select_queries,
    wrap_text,
)

__all__ = [
    'draw_neighbor_grid', 'grid_figure_size', 'header_height',
    'select_queries', 'wrap_text'
]

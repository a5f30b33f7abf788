"""Figures for inspecting NNCLR representations (nearest-neighbour grids)."""
from .neighbor_grid import (build_eval_preprocessor, draw_neighbor_grid,
                            embed_images, find_support_set, gallery_knn,
                            grid_figure_size, header_height, iter_batches,
                            label_agreement, match_to_gallery, project,
                            select_queries, support_set_neighbors, wrap_text)

__all__ = [
    'build_eval_preprocessor', 'draw_neighbor_grid', 'embed_images',
    'find_support_set', 'gallery_knn', 'grid_figure_size', 'header_height',
    'iter_batches', 'label_agreement', 'match_to_gallery', 'project',
    'select_queries', 'support_set_neighbors', 'wrap_text'
]

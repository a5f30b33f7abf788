"""Drawing a grid of query images and their nearest neighbours.

Only the picture: which queries (:func:`select_queries`) and how the PNG is
laid out (:func:`draw_neighbor_grid`, with matplotlib's Agg canvas and no
pyplot, so no global backend state is touched). The neighbours themselves
come from ``SupportSetQueue.nearest`` or ``topk_inner_product``
(``tools/analysis_tools/visualize_neighbors.py``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch import Tensor

# Figure geometry in inches. Every tile gets the same box, so the PNG size
# is a known function of the grid shape (see :func:`grid_figure_size`).
TILE_SIZE = 1.1  # side of one image
TILE_TITLE = 0.52  # up to three text lines above each image
TILE_PAD = 0.12  # gap between tiles
QUERY_GAP = 0.3  # extra gap that separates the query column
TITLE_LINE = 0.22  # one line of the 11 pt figure title
CAPTION_LINE = 0.15  # one line of the 8 pt caption
HEADER_MARGIN = 0.12  # above the title, between title and caption, below
DPI = 100

SAME_CLASS_COLOR = '#1a9641'
OTHER_CLASS_COLOR = '#d7191c'
UNKNOWN_CLASS_COLOR = '#888888'
QUERY_COLOR = '#2b5fad'


def select_queries(labels: Sequence[int], num: int,
                   seed: int = 0) -> List[int]:
    """Pick ``num`` indices, spread over the classes as evenly as possible.

    Classes take turns (in a seeded random order) giving one random image
    each until ``num`` are picked; the result is sorted by class so that
    rows of one class sit together in the grid.

    Args:
        labels (Sequence[int]): Label of every candidate.
        num (int): How many to pick (clipped to ``len(labels)``).
        seed (int): Seed of the choice. Defaults to 0.

    Returns:
        List[int]: Indices into ``labels``.
    """
    if num < 1:
        raise ValueError(f'num must be >= 1, got {num}')
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pools = {
        int(c): list(rng.permutation(np.flatnonzero(labels == c)))
        for c in np.unique(labels)
    }
    order = [int(c) for c in rng.permutation(sorted(pools))]
    picked: List[Tuple[int, int]] = []
    num = min(num, len(labels))
    while len(picked) < num:
        for c in order:
            if pools[c] and len(picked) < num:
                picked.append((c, int(pools[c].pop())))
    return [i for _, i in sorted(picked)]


# ------------------------------------------------------------------ drawing
def header_height(title: str, caption: str) -> float:
    """Height in inches of the text block above the tiles.

    Args:
        title (str): Figure title, already wrapped.
        caption (str): Caption, already wrapped.

    Returns:
        float: Height in inches.
    """
    num_title = len(title.split('\n')) if title else 0
    num_caption = len(caption.split('\n')) if caption else 0
    return (3 * HEADER_MARGIN + num_title * TITLE_LINE +
            num_caption * CAPTION_LINE)


def grid_figure_size(num_rows: int,
                     num_cols: int,
                     header: float = 0.) -> Tuple[float, float]:
    """Width and height in inches of a grid figure.

    The width depends only on the columns and the height is ``header`` plus
    the same amount per row, so the PNG's shape follows the grid's.

    Args:
        num_rows (int): Queries.
        num_cols (int): Columns including the query column.
        header (float): Height of the title block in inches (see
            :func:`header_height`). Defaults to 0.

    Returns:
        Tuple[float, float]: ``(width, height)``; times :data:`DPI` gives
        the PNG size in pixels.
    """
    width = TILE_PAD + num_cols * (TILE_SIZE + TILE_PAD) + QUERY_GAP
    height = header + num_rows * (TILE_TITLE + TILE_SIZE + TILE_PAD)
    return width, height


def _class_name(label: int, class_names: Sequence[str]) -> str:
    if 0 <= label < len(class_names):
        return str(class_names[label])
    return '?' if label < 0 else str(label)


def _draw_tile(fig, box: Tuple[float, float, float, float], img: np.ndarray,
               title: str, color: str, title_color: str = 'black') -> None:
    """One image with a coloured frame and a title, at ``box`` (figure
    fractions: left, bottom, width, height)."""
    ax = fig.add_axes(box)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    cmap = 'gray' if img.ndim == 2 else None
    ax.imshow(img, cmap=cmap, vmin=0, vmax=255, interpolation='nearest')
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(4)
    # pad clears the thick frame, half of which lies outside the axes.
    ax.set_title(
        title, fontsize=7.5, color=title_color, pad=5, linespacing=1.15)


def wrap_text(text: str, width_in: float, char_in: float = 0.075) -> str:
    """Break ``text`` into lines that fit ``width_in`` inches.

    Args:
        text (str): Text; existing newlines are kept.
        width_in (float): Available width in inches.
        char_in (float): Average character width in inches; 0.075 is a
            conservative value for 8 pt sans-serif. Defaults to 0.075.

    Returns:
        str: The text with newlines inserted between words.
    """
    max_chars = max(20, int(width_in / char_in))
    lines = []
    for paragraph in text.split('\n'):
        line = ''
        for word in paragraph.split(' '):
            if line and len(line) + 1 + len(word) > max_chars:
                lines.append(line)
                line = word
            else:
                line = f'{line} {word}' if line else word
        lines.append(line)
    return '\n'.join(lines)


def draw_neighbor_grid(query_imgs: Sequence[np.ndarray],
                       neighbor_imgs: Sequence[Sequence[np.ndarray]],
                       neighbor_sims: Tensor,
                       query_labels: Sequence[int],
                       neighbor_labels: Tensor,
                       class_names: Sequence[str],
                       out_file: str,
                       title: str = '',
                       caption: str = '',
                       neighbor_notes: Optional[Sequence[Sequence[str]]] = None
                       ) -> Dict[str, float]:
    """Write a PNG with one row per query: the query, then its neighbours.

    Each neighbour tile is titled with its class name and cosine similarity
    and framed green when its class is the query's, red when it is another
    class, grey when its label is unknown. Title and caption are wrapped to
    the figure width; the block above the tiles grows with their lines.

    Args:
        query_imgs (Sequence[np.ndarray]): ``B`` images (H, W) or (H, W, C),
            0..255.
        neighbor_imgs (Sequence[Sequence[np.ndarray]]): ``B`` lists of ``k``
            images.
        neighbor_sims (Tensor): ``(B, k)`` cosine similarities.
        query_labels (Sequence[int]): ``B`` labels.
        neighbor_labels (Tensor): ``(B, k)`` labels, -1 if unknown.
        class_names (Sequence[str]): Name of each label.
        out_file (str): PNG path.
        title (str): Figure title. Defaults to ''.
        caption (str): Smaller text under the title. Defaults to ''.
        neighbor_notes (Sequence[Sequence[str]], optional): A third title
            line for each neighbour. Defaults to None.

    Returns:
        dict[str, float]: ``width`` and ``height`` of the PNG in pixels,
        ``header`` (inches above the tiles), ``rows`` and ``cols``.
    """
    # Agg canvas on a bare Figure: no pyplot, so no global backend switch
    # and no figure kept alive by pyplot's registry.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    num_rows = len(query_imgs)
    if num_rows == 0 or len(neighbor_imgs) != num_rows:
        raise ValueError('draw_neighbor_grid: need one row of neighbours per '
                         f'query, got {num_rows} queries and '
                         f'{len(neighbor_imgs)} rows')
    num_cols = 1 + max(len(row) for row in neighbor_imgs)
    width, _ = grid_figure_size(num_rows, num_cols)
    text_width = width - 2 * TILE_PAD
    title = wrap_text(title, text_width, char_in=0.1) if title else ''
    caption = wrap_text(caption, text_width) if caption else ''
    header = header_height(title, caption)
    width, height = grid_figure_size(num_rows, num_cols, header)

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor('white')
    top = HEADER_MARGIN
    if title:
        fig.text(0.5, 1 - top / height, title, ha='center', va='top',
                 fontsize=11, weight='bold', linespacing=1.2)
        top += len(title.split('\n')) * TITLE_LINE + HEADER_MARGIN
    if caption:
        fig.text(0.5, 1 - top / height, caption, ha='center', va='top',
                 fontsize=8, color='#333333', linespacing=1.3)

    def box(row: int, col: int) -> Tuple[float, float, float, float]:
        left = TILE_PAD + col * (TILE_SIZE + TILE_PAD)
        if col > 0:
            left += QUERY_GAP
        top = header + row * (TILE_TITLE + TILE_SIZE + TILE_PAD) + TILE_TITLE
        bottom = height - top - TILE_SIZE
        return (left / width, bottom / height, TILE_SIZE / width,
                TILE_SIZE / height)

    for row in range(num_rows):
        q_label = int(query_labels[row])
        _draw_tile(fig, box(row, 0), np.asarray(query_imgs[row]),
                   f'query\n{_class_name(q_label, class_names)}',
                   QUERY_COLOR, QUERY_COLOR)
        for col, img in enumerate(neighbor_imgs[row]):
            n_label = int(neighbor_labels[row, col])
            if n_label < 0:
                color = UNKNOWN_CLASS_COLOR
            elif n_label == q_label:
                color = SAME_CLASS_COLOR
            else:
                color = OTHER_CLASS_COLOR
            text = (f'{_class_name(n_label, class_names)}\n'
                    f'cos {float(neighbor_sims[row, col]):.3f}')
            if neighbor_notes is not None and neighbor_notes[row][col]:
                text += f'\n{neighbor_notes[row][col]}'
            _draw_tile(fig, box(row, col + 1), np.asarray(img), text, color)
    fig.savefig(out_file, dpi=DPI, facecolor='white')
    return dict(
        width=int(round(width * DPI)),
        height=int(round(height * DPI)),
        header=header,
        rows=num_rows,
        cols=num_cols)


__all__ = [
    'select_queries', 'header_height', 'grid_figure_size', 'wrap_text',
    'draw_neighbor_grid'
]

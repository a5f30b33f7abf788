"""Online weighted-kNN evaluation of the backbone during pretraining."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import Tensor

from nnclr_plugin.evaluation import extract_backbone_features, knn_accuracy
from nnclr_plugin.evaluation.linear_probe import linear_probe
from nnclr_plugin.utils.checks import check_bool, check_int, check_positive

DATA_BATCH = Optional[Sequence[dict]]


def _first(pair: Tuple[Tensor, Tensor],
           num: Optional[int]) -> Tuple[Tensor, Tensor]:
    return pair if num is None else (pair[0][:num], pair[1][:num])


@HOOKS.register_module()
class KNNEvalHook(Hook):
    """Track a weighted kNN (and, at the end, a linear probe) while training.

    Every ``interval`` iterations the backbone (eval mode, no gradient)
    embeds the first ``num_train`` images of ``train_dataloader`` (the kNN
    memory) and the first ``num_val`` of ``val_dataloader`` (the queries);
    a weighted kNN gives ``knn/top1`` and ``knn/top5``, which are logged and
    sent to the visualizer. A fixed subset keeps this cheap; after the last
    iteration the hook evaluates once more on the *whole* of both sets and,
    with ``linear_probe=True``, fits an L2-regularised logistic regression
    on the same features (``probe/top1``). Every evaluation is appended to
    ``{work_dir}/{out_file}`` so benchmark scripts read the curve without
    parsing logs.

    Both dataloaders must yield single-view batches with labels (an
    evaluation pipeline, e.g. ``configs/_base_/datasets/fashion_mnist_eval``)
    and should not shuffle, so that the subsets stay the same.
    Features are computed on every process and the kNN on the main one
    only; use it on a single process or accept the duplicated work.

    Args:
        train_dataloader (dict): Dataloader config of the memory set.
        val_dataloader (dict): Dataloader config of the query set.
        interval (int): Iterations between evaluations; 0 evaluates only
            at the end. Defaults to 500.
        num_train (int, optional): Memory images during training; None
            uses all. Defaults to 10000.
        num_val (int, optional): Query images during training; None uses
            all. Defaults to 5000.
        k (int): Neighbours. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        linear_probe (bool): Fit a linear probe on the final full-set
            features. Defaults to False.
        out_file (str): Name of the JSON history in the work dir.
            Defaults to ``'knn_history.json'``.
    """

    priority = 'LOW'  # after the optimiser step and the queue flush

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: dict,
                 interval: int = 500,
                 num_train: Optional[int] = 10000,
                 num_val: Optional[int] = 5000,
                 k: int = 200,
                 temperature: float = 0.07,
                 linear_probe: bool = False,
                 out_file: str = 'knn_history.json') -> None:
        check_int('KNNEvalHook', minimum=0, interval=interval)
        check_int('KNNEvalHook', k=k)
        check_int('KNNEvalHook', optional=True, num_train=num_train,
                  num_val=num_val)
        check_bool('KNNEvalHook', linear_probe=linear_probe)
        check_positive('KNNEvalHook', temperature=temperature)
        self.train_dataloader_cfg = train_dataloader
        self.val_dataloader_cfg = val_dataloader
        self.interval = interval
        self.num_train = num_train
        self.num_val = num_val
        self.k = k
        self.temperature = temperature
        self.linear_probe = linear_probe
        self.out_file = out_file
        self.history: List[Dict] = []

    def before_train(self, runner) -> None:
        self._loaders = [
            runner.build_dataloader(self.train_dataloader_cfg),
            runner.build_dataloader(self.val_dataloader_cfg)
        ]
        path = osp.join(runner.work_dir, self.out_file)
        # A resumed run keeps the curve measured before the interruption.
        if osp.isfile(path):
            with open(path) as f:
                self.history = [
                    h for h in json.load(f)
                    if h['iter'] <= runner.iter and not h['final']
                ]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval) \
                and not self.is_last_train_iter(runner):
            self.evaluate(runner, *self.extract(runner, self.num_train,
                                                self.num_val),
                          iteration=runner.iter + 1)

    def after_train(self, runner) -> None:
        train, val = self.extract(runner, None, None)
        if self.interval and (self.num_train or self.num_val):
            # The curve's last point, on the same subsets as the others:
            # the unshuffled loaders make them the first rows of the whole.
            self.evaluate(runner, _first(train, self.num_train),
                          _first(val, self.num_val))
        self.evaluate(runner, train, val, final=True)

    def extract(self, runner, num_train: Optional[int],
                num_val: Optional[int]) -> Tuple[Tuple[Tensor, Tensor], ...]:
        """Backbone features and labels of the first images of each set."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return (extract_backbone_features(model, self._loaders[0],
                                          num_train),
                extract_backbone_features(model, self._loaders[1], num_val))

    def evaluate(self,
                 runner,
                 train: Tuple[Tensor, Tensor],
                 val: Tuple[Tensor, Tensor],
                 final: bool = False,
                 iteration: Optional[int] = None) -> Dict:
        """Run the kNN (and probe) on extracted features, log and record.

        ``iteration`` is the number of finished iterations (``runner.iter``
        lags by one inside ``after_train_iter``).
        """
        if iteration is None:
            iteration = runner.iter
        train_feats, train_labels = train
        val_feats, val_labels = val
        if not is_main_process():
            return {}
        result = knn_accuracy(
            train_feats,
            train_labels,
            val_feats,
            val_labels,
            k=self.k,
            temperature=self.temperature)
        record = dict(
            iter=iteration,
            final=final,
            num_train=len(train_labels),
            num_val=len(val_labels),
            **{f'knn/{key}': value
               for key, value in result.items()})
        if final and self.linear_probe:
            probe = linear_probe(train_feats, train_labels, val_feats,
                                 val_labels)
            record.update({f'probe/{key}': value
                           for key, value in probe.items()})
        runner.logger.info('kNN evaluation at iter %d (%d train / %d val): '
                           '%s', iteration, record['num_train'],
                           record['num_val'], ', '.join(
                               f'{key} {value:.2f}'
                               for key, value in record.items()
                               if '/' in key and isinstance(value, float)))
        runner.visualizer.add_scalars(
            {key: value for key, value in record.items() if '/' in key
             and isinstance(value, float)}, step=iteration)
        # A run resumed from its last checkpoint redoes the end-of-training
        # point; the new record replaces the old one.
        self.history = [
            h for h in self.history
            if (h['iter'], h['final']) != (iteration, final)
        ] + [record]
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            json.dump(self.history, f, indent=1)
        return record

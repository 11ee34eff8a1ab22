"""BayesianRouter's offline stage (Wu & Lu, arXiv 2510.02850): score preference pairs with every
reward arm, learn per-arm strength vectors with a Bradley-Terry loss, and export them as the prior
of the online ``bayesian_router`` selector."""
from laser_plugin.router.model import RouterConfig, TrainedRouter, train_router
from laser_plugin.router.prior import RouterPrior, load_router, save_router

__all__ = ["RouterConfig", "TrainedRouter", "train_router", "RouterPrior", "load_router", "save_router"]

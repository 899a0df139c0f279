"""Concept-based explanations: what a layer has learned, in terms of human concepts.

- `cav` / `tcav`: concept activation vectors and testing with them (Kim et al., 2018).
- `nmf_concepts`: concepts discovered by non-negative factorization of a layer's
  activations (Collins et al., 2018; Fel et al., 2023).
- `crp` / `relevance_maximization`: concept relevance propagation, conditional
  LRP heatmaps per channel and reference images ranked by relevance
  (Achtibat et al., 2023).
- `activation_atlas` / `caricature`: feature visualization of averaged
  activations and of an image's own activation pattern (Carter et al., 2019).

Plots are in `kerasviz.plotting.concepts` and re-exported here.
"""

from kerasviz.concepts.atlas import ActivationAtlas, activation_atlas
from kerasviz.concepts.caricature import Caricature, caricature
from kerasviz.concepts.cav import CAV, cav
from kerasviz.concepts.crp import ConceptRelevance, crp
from kerasviz.concepts.nmf import NMFConcepts, nmf_concepts
from kerasviz.concepts.relmax import TopRelevant, relevance_maximization
from kerasviz.concepts.tcav import TCAV, tcav
from kerasviz.plotting.concepts import (
    plot_activation_atlas,
    plot_caricature,
    plot_crp,
    plot_nmf_concepts,
    plot_relevance_maximization,
    plot_tcav,
)

__all__ = [
    "ActivationAtlas",
    "Caricature",
    "activation_atlas",
    "caricature",
    "CAV",
    "ConceptRelevance",
    "NMFConcepts",
    "TCAV",
    "TopRelevant",
    "cav",
    "crp",
    "nmf_concepts",
    "relevance_maximization",
    "tcav",
    "plot_activation_atlas",
    "plot_caricature",
    "plot_crp",
    "plot_nmf_concepts",
    "plot_relevance_maximization",
    "plot_tcav",
]

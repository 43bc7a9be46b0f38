"""Geometric part segmentation recovers the procedural library's true parts; labels are kept; plug-in works."""
import dataclasses

import numpy as np
import trimesh

from dexvlg_jax.data.segment import GeometricSegmenter, Segmenter, ensure_parts, part_iou
from dexvlg_jax.objects.library import CATEGORIES, make_object


def test_recovers_true_parts_of_procedural_objects():
    segmenter = GeometricSegmenter()
    scores = {}
    for category in CATEGORIES:
        mesh = make_object(category, 0)
        labels = segmenter.segment(mesh.vertices, mesh.faces)
        assert labels.shape == (len(mesh.faces),) and labels.min() == 0
        areas = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).area_faces
        scores[category], _ = part_iou(mesh.face_part_ids, labels, areas)
    print("segmentation mIoU per category:", {k: round(v, 3) for k, v in scores.items()})
    # Measured (seed 0): mean 0.98; pan 0.86, mug 0.93, bucket 0.92 (an extra inner-bottom / neck segment).
    assert np.mean(list(scores.values())) >= 0.9, scores
    assert min(scores.values()) >= 0.8, scores


def test_single_convex_solid_is_one_part_and_unions_split():
    box = trimesh.creation.box((0.1, 0.2, 0.3))
    assert GeometricSegmenter().segment(box.vertices, box.faces).max() == 0
    handle = trimesh.creation.cylinder(0.01, 0.3, sections=24)
    handle.apply_translation((0, 0, 0.3))
    union = trimesh.boolean.union([box, handle], engine="manifold")
    labels = GeometricSegmenter().segment(union.vertices, union.faces)
    assert labels.max() == 1
    on_top = union.triangles_center[:, 2] > 0.15 + 1e-6
    assert np.mean(labels[on_top] == labels[on_top][0]) > 0.99 and labels[on_top][0] == 1  # ids by decreasing area


def test_ensure_parts_keeps_labels_and_accepts_external_segmenters():
    mesh = make_object("mug", 1)
    assert ensure_parts(mesh) is mesh  # labeled: untouched
    unlabeled = dataclasses.replace(mesh, face_part_ids=np.zeros(len(mesh.faces), np.int64),
                                    part_names=["mug"], part_classes=[""])
    segmented = ensure_parts(unlabeled)
    assert segmented.num_parts >= 2 and segmented.part_names == [""] * segmented.num_parts

    class HalfSplit(Segmenter):  # stand-in for an external segmenter (e.g. SAMesh)
        def segment(self, vertices, faces):
            return (vertices[faces].mean(1)[:, 2] > np.median(vertices[:, 2])).astype(np.int64)

    external = ensure_parts(unlabeled, HalfSplit())
    assert external.num_parts == 2 and set(np.unique(external.face_part_ids)) == {0, 1}

"""ag.save / ag.load: round trips, map_location, atomic writes, and clear errors for bad files."""
from __future__ import annotations

import io
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import serialization


def test_roundtrip_nested_containers(tmp_path):
    x = ag.randn(3, 4)
    obj = {"t": x, "again": x, "list": [1, 2.5, float("nan"), float("-inf"), None, "s", True, (1, (2, 3))],
           7: {"int key": ag.arange(5, dtype=ag.int32)[::2], 1.5: ag.tensor(True)},
           "od": OrderedDict(b=1, a=2), "dtype": ag.float16, "device": ag.device("cpu"),
           "half": ag.ones(2, dtype=ag.float16), "empty": ag.zeros(0, 3), "scalar": ag.tensor(2.0),
           "np": np.arange(4, dtype=np.uint8)}
    path = tmp_path / "ck.pt"
    ag.save(obj, path)
    back = ag.load(path)
    assert back["t"].tolist() == x.tolist() and back["again"] is back["t"]
    assert back["list"][:2] == [1, 2.5] and np.isnan(back["list"][2]) and back["list"][3] == -np.inf
    assert back["list"][4:] == [None, "s", True, (1, (2, 3))]
    assert back[7]["int key"].tolist() == [0, 2, 4] and back[7]["int key"].dtype == ag.int32
    assert back[7][1.5].dtype == ag.bool and back[7][1.5].item() is True
    assert isinstance(back["od"], OrderedDict) and list(back["od"]) == ["b", "a"]
    assert back["dtype"] is ag.float16 and back["device"] == ag.device("cpu")
    assert back["half"].dtype == ag.float16 and back["empty"].shape == (0, 3) and back["scalar"].shape == ()
    assert back["np"].dtype == np.uint8 and back["np"].tolist() == [0, 1, 2, 3]


def test_parameters_and_requires_grad_survive(tmp_path):
    p = ag.nn.Parameter(ag.ones(2))
    leaf = ag.zeros(3, requires_grad=True)
    ag.save([p, leaf, leaf * 2], tmp_path / "p")
    q, l2, d = ag.load(tmp_path / "p")
    assert isinstance(q, ag.nn.Parameter) and q.requires_grad
    assert l2.requires_grad and l2.is_leaf
    assert d.requires_grad and d.is_leaf and d.tolist() == [0.0] * 3   # as torch.save: a leaf that requires grad


def test_module_and_optimizer_state_roundtrip(tmp_path):
    model = ag.nn.Sequential(ag.nn.Linear(3, 4), ag.nn.ReLU(), ag.nn.Linear(4, 2))
    ag.save(model.state_dict(), tmp_path / "m")
    other = ag.nn.Sequential(ag.nn.Linear(3, 4), ag.nn.ReLU(), ag.nn.Linear(4, 2))
    other.load_state_dict(ag.load(tmp_path / "m"))
    for a, b in zip(model.parameters(), other.parameters()):
        assert a.tolist() == b.tolist()
    state = {"state": {0: {"step": ag.tensor(3.0), "exp_avg": ag.ones(2)}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]}
    ag.save(state, tmp_path / "o")
    back = ag.load(tmp_path / "o")
    assert back["state"][0]["step"].item() == 3.0 and back["param_groups"][0]["betas"] == (0.9, 0.999)


def test_file_objects_and_map_location():
    buf = io.BytesIO()
    ag.save({"x": ag.arange(3)}, buf)
    buf.seek(0)
    assert ag.load(buf, map_location="cpu")["x"].tolist() == [0, 1, 2]
    buf.seek(0)
    seen = []
    ag.load(buf, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu"]
    buf.seek(0)
    assert ag.load(buf, map_location={"cuda:0": "cpu"})["x"].device.type == "cpu"


def test_cuda_location_without_cuda_raises(tmp_path, monkeypatch):
    if ag.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    path = tmp_path / "c"
    ag.save(ag.ones(2), path)
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    meta = json.loads(head["__metadata__"]["autograd_gpu"])
    meta["object"]["device"] = "cuda:0"
    head["__metadata__"]["autograd_gpu"] = json.dumps(meta)
    raw = json.dumps(head).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(data[8 + n:]))
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        ag.load(path)
    assert ag.load(path, map_location="cpu").tolist() == [1.0, 1.0]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "foreign", "garbage_header"])
def test_bad_files_raise_clear_errors(tmp_path, damage):
    path = tmp_path / "ck"
    ag.save({"w": ag.arange(100).float()}, path)
    data = path.read_bytes()
    bad = {"truncate": data[:-17], "flip": data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:], "empty": b"",
           "foreign": b"PK\x03\x04" + os.urandom(200),
           "garbage_header": struct.pack("<Q", 10) + b"not json!!" + b"\0" * 8}[damage]
    path.write_bytes(bad)
    with pytest.raises(RuntimeError) as e:
        ag.load(path)
    assert str(path) in str(e.value)
    assert any(w in str(e.value) for w in ("corrupted", "not an autograd_gpu checkpoint", "truncated"))


def test_unsupported_objects_are_refused_not_pickled(tmp_path):
    with pytest.raises(TypeError, match="ag.save cannot store the .*object at obj\\['f'\\]"):
        ag.save({"f": object()}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_write_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ck"
    ag.save({"v": ag.ones(3)}, path)

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(serialization.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        ag.save({"v": ag.zeros(3)}, path)
    monkeypatch.undo()
    assert ag.load(path)["v"].tolist() == [1.0, 1.0, 1.0]
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]      # no temp file left behind


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        ag.load("/nonexistent/ck")


@pytest.mark.cuda
def test_cuda_tensors_roundtrip(tmp_path):
    x = ag.randn(4, 5, device="cuda")
    ag.save({"x": x}, tmp_path / "g")
    back = ag.load(tmp_path / "g")
    assert back["x"].device == x.device and back["x"].cpu().tolist() == x.cpu().tolist()
    assert ag.load(tmp_path / "g", map_location="cpu")["x"].device.type == "cpu"

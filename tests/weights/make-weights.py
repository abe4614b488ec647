#!/usr/bin/python3
# make-weights.py: writes the weight files the weights tests read, and what PyTorch says is in them
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: make-weights.py OUTDIR [--minimal] [--leafnet PATH]
#        make-weights.py check-safetensors FILE REFERENCE.pth [KEY=VALUE...]
#        make-weights.py check-torch FILE REFERENCE.pth
#
# OUTDIR/expected.tsv gets one line per tensor, as PyTorch reads it:
#   FILE <tab> NAME <tab> DTYPE <tab> SHAPE (comma-separated) <tab> SHA-256 of the contiguous
#   little-endian bytes
# and OUTDIR/files.tsv one line per good file: FILE <tab> SHA-256 of the file <tab> tensor count.
# Hostile files are written next to them; the C tests know what each must give.
# Nothing here ever loads a hostile file: they are only pickled.
#
# check-safetensors reads FILE (written by Leafscope) by hand, since the safetensors package is
# not installed, and exits 0 if it holds exactly the tensors of REFERENCE.pth as torch.load reads
# them, laid out as the reference implementation lays them out, with exactly the given metadata.
#
# check-torch loads FILE (written by Leafscope) with torch.load(weights_only=True) and exits 0 if
# it is a plain OrderedDict of contiguous tensors equal, in order, to the state dict of
# REFERENCE.pth (a checkpoint's "state_dict").

import collections
import hashlib
import io
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import zipfile
import zlib

import torch
import torch.nn as nn

DTYPE_NAMES = {
    torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
    torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}
# (safetensors name, position in the reference implementation's Dtype enum)
SAFE_DTYPES = {
    torch.bool: ("BOOL", 0), torch.uint8: ("U8", 1), torch.int8: ("I8", 2),
    torch.int16: ("I16", 5), torch.float16: ("F16", 7), torch.bfloat16: ("BF16", 8),
    torch.int32: ("I32", 9), torch.float32: ("F32", 11), torch.float64: ("F64", 12),
    torch.int64: ("I64", 13),
}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def small_model():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4, 2))
    model[1].running_mean.uniform_()
    model[1].num_batches_tracked.fill_(7)
    model[4].half()
    return model


class Reducer:
    """An object that pickles as a call to any function: how hostile files are made."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def fake_tensor(storage, offset, size, stride):
    """Pickles as torch's own _rebuild_tensor_v2 call, with whatever view it is given."""
    return Reducer(torch._utils._rebuild_tensor_v2,
                   (storage, offset, size, stride, False, collections.OrderedDict()))


class Writer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.expected = open(os.path.join(outdir, "expected.tsv"), "w")
        self.files = open(os.path.join(outdir, "files.tsv"), "w")

    def path(self, name):
        return os.path.join(self.outdir, name)

    def expect(self, name, state_dict):
        for key, t in state_dict.items():
            shape = ",".join(str(d) for d in t.shape)
            digest = hashlib.sha256(tensor_bytes(t)).hexdigest()
            self.expected.write(f"{name}\t{key}\t{DTYPE_NAMES[t.dtype]}\t{shape}\t{digest}\n")
        with open(self.path(name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.files.write(f"{name}\t{digest}\t{len(state_dict)}\n")

    def save(self, name, obj, expected=None, **kwargs):
        torch.save(obj, self.path(name), **kwargs)
        if expected is not None:
            self.expect(name, expected)

    def raw(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)


def write_safetensors(path, tensors, metadata):
    """The layout of the reference implementation: dtypes by descending alignment, then names;
    __metadata__ first; compact JSON padded with spaces to 8 bytes."""
    items = sorted(tensors.items(), key=lambda kv: (-SAFE_DTYPES[kv[1].dtype][1], kv[0]))
    header, data, offset = {}, b"", 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": SAFE_DTYPES[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        data += b
        offset += len(b)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def raw_safetensors(header, data, length=None):
    text = header.encode() if isinstance(header, str) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def rezip(source, dest, compression=zipfile.ZIP_STORED, edit=None):
    """Copies a torch.save archive member by member, optionally changing one."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if edit is not None:
                data = edit(info.filename, data)
            zout.writestr(info.filename, data)


def archive(dest, pickle_bytes, records=None):
    """A torch.save-shaped archive around pickle bytes written by hand."""
    with zipfile.ZipFile(dest, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        for key, data in (records or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")


def stored_header(name, data):
    """A zip local header for a stored member, as zipfile writes one."""
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, zlib.crc32(data), len(data),
                       len(data), len(name), 0) + name.encode()


def overlapping_archive(n, payload):
    """A torch.save-shaped archive of n float32 storages whose stored members nest: the data of
    data/i is data/i+1 whole, local header included. Every offset lies inside the file and every
    CRC is right, yet reading each member into its own buffer takes about n times the file."""
    names = [f"archive/data/{i}" for i in range(n)]
    data = [payload]
    for name in reversed(names[1:]):
        data.insert(0, stored_header(name, data[0]) + data[0])
    state = collections.OrderedDict((f"t{i}", torch.zeros(len(d) // 4)) for i, d in enumerate(data))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with zipfile.ZipFile(buffer) as z:
        pickled = z.read("archive/data.pkl")

    body = stored_header("archive/data.pkl", pickled) + pickled
    offsets = [0, len(body)]
    for name in names[:-1]:
        offsets.append(offsets[-1] + 30 + len(name))
    body += stored_header(names[0], data[0]) + data[0]
    central = b""
    for name, member, offset in zip(["archive/data.pkl"] + names, [pickled] + data, offsets):
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0,
                               zlib.crc32(member), len(member), len(member), len(name), 0, 0, 0,
                               0, 0, offset) + name.encode()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n + 1, n + 1, len(central), len(body), 0)
    return body + central + end


def write_good(w, minimal):
    small = small_model().state_dict()
    w.save("small.pth", small, small)
    write_safetensors(w.path("small.safetensors"), small, {"format": "pt"})
    w.expect("small.safetensors", small)
    if minimal:
        return

    torch.manual_seed(2)
    dtypes = {
        "f32": torch.randn(3, 4), "f64": torch.randn(5, dtype=torch.float64),
        "f16": torch.randn(2, 3).half(), "bf16": torch.randn(4).bfloat16(),
        "i64": torch.randint(-2**40, 2**40, (3,)), "i32": torch.randint(-9, 9, (2, 2), dtype=torch.int32),
        "i16": torch.arange(-3, 3, dtype=torch.int16), "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(250, 256, dtype=torch.uint8), "flags": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
        "name with \"quotes\" and é": torch.ones(1),
    }
    w.save("dtypes.pth", dtypes, dtypes)
    # Protocol 0 writes everything as text lines, the tensor name with an é as Latin-1; torch.load
    # itself cannot read its persistent ids back, so what is expected is what was saved.
    w.save("dtypes-protocol0.pth", dtypes, dtypes, pickle_protocol=0)

    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    halves = torch.arange(20, dtype=torch.float16)
    views = {"base": base, "transposed": base.t(), "block": base[1:4, 2:7], "row": base[5],
             "every_third": base[:, ::3], "element": base[2, 3], "halves": halves[5:15:2]}
    assert views["block"].storage_offset() > 0 and not views["transposed"].is_contiguous()
    w.save("views.pth", views, views)

    params = dict(nn.Linear(3, 2).named_parameters())
    w.save("params.pth", params, params)

    # The keys nn.DataParallel and DistributedDataParallel save.
    wrapped = nn.DataParallel(small_model()).state_dict()
    w.save("module-prefixed.pth", wrapped, wrapped)

    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model[4].float()
    model(torch.randn(2, 3, 3, 3)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 3, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "best_accuracy": 0.875, "classes": ["healthy", "blight"], "seed": 2**70,
                  "offset": -5, "flags": (None, True, b"\x00bytes")}
    w.save("checkpoint.pth", checkpoint, model.state_dict())
    for protocol in (0, 1):
        w.save(f"checkpoint-protocol{protocol}.pth", checkpoint, model.state_dict(),
               pickle_protocol=protocol)

    for protocol in (0, 1, 4):
        w.save(f"protocol{protocol}.pth", small, small, pickle_protocol=protocol)

    write_safetensors(w.path("python.safetensors"), dtypes,
                      {"format": "pt", "source": "make-weights.py"})
    w.expect("python.safetensors", dtypes)

    import torchvision
    torch.manual_seed(0)
    effnet = torchvision.models.efficientnet_b0(num_classes=5).state_dict()
    w.save("effnet.pth", effnet, effnet)


def write_hostile(w):
    marker = w.path("marker")
    command = f"echo pwned > {marker}"
    w.save("evil-system.pth", {"weight": torch.zeros(2), "payload": Reducer(os.system, (command,))})
    # Protocols 3 and 4 name builtins and subprocess as they are (2 maps them to Python 2's
    # modules), and 4 names globals through STACK_GLOBAL.
    w.save("evil-eval.pth", {"payload": Reducer(eval, (f"__import__('os').system({command!r})",))},
           pickle_protocol=3)
    w.save("evil-popen.pth", {"payload": Reducer(subprocess.Popen, (["sh", "-c", command],))},
           pickle_protocol=4)
    w.save("whole-model.pth", nn.Linear(2, 2))
    w.save("evil-system-protocol0.pth", {"payload": Reducer(os.system, (command,))},
           pickle_protocol=0)
    # INST builds an object from a module and name written inline, without GLOBAL.
    archive(w.path("evil-inst.pth"), b"\x80\x02(ios\nsystem\n.")
    archive(w.path("evil-inst-protocol0.pth"), b"(S'echo pwned'\nios\nsystem\n.")
    # Protocol 0's persistent ids are text, naming the storage class too.
    archive(w.path("evil-persid-protocol0.pth"),
            b"(P('storage', <class 'os.system'>, '0', 'cpu', 4)\nt.")
    archive(w.path("persid-protocol0-garbage.pth"), b"(P__import__('os').system('true')\nt.")
    archive(w.path("set-protocol4.pth"), b"\x80\x04\x8f.")

    storage = torch.zeros(10).storage()
    for name, view in {
        "past-end": (5, (10,), (1,)), "negative-size": (0, (-1,), (1,)),
        "negative-stride": (0, (3,), (-1,)), "negative-offset": (-1, (2,), (1,)),
        "numel-overflow": (0, (2**40, 2**40), (1, 1)), "stride-overflow": (0, (3,), (2**62,)),
        "expanded": (0, (2**40,), (0,)), "rank-mismatch": (0, (2, 2), (1,)),
    }.items():
        w.save(f"view-{name}.pth", {"weight": fake_tensor(storage, *view)})

    small = w.path("small.pth")
    data = open(small, "rb").read()
    w.raw("truncated.pth", data[: len(data) * 6 // 10])
    rezip(small, w.path("short-record.pth"),
          edit=lambda name, d: d[:100] if name.endswith("/data/0") else d)
    rezip(small, w.path("deflated.pth"), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(small) as z:
        info = z.getinfo("small/data/0")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    flipped = bytearray(data)
    flipped[info.header_offset + 30 + name_len + extra_len + 5] ^= 0x40
    w.raw("flipped-byte.pth", bytes(flipped))
    with zipfile.ZipFile(w.path("no-pickle.zip"), "w") as z:
        z.writestr("notes/readme.txt", "not weights")

    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), w.path("torchscript.pt"))
    w.save("legacy.pth", small_model().state_dict(), _use_new_zipfile_serialization=False)
    w.raw("plain.pkl", pickle.dumps({"weight": [1.0, 2.0]}, protocol=2))
    w.save("list.pth", [torch.zeros(2)])
    w.save("epoch.pth", {"epoch": 3, "weight": torch.zeros(1)})
    # A million nested tuples, and a list that contains itself stored at memo index 2**32-1.
    archive(w.path("deep.pth"), b"\x80\x02N" + b"\x85" * 1000000 + b".")
    archive(w.path("cyclic.pth"), b"\x80\x02]r\xff\xff\xff\xffj\xff\xff\xff\xffa.")
    archive(w.path("bad-memo.pth"), b"\x80\x02}h\x07s.")
    archive(w.path("unterminated.pth"), b"\x80\x02}q\x00(X\x01\x00\x00\x00a")
    w.raw("overlapping-members.pth", overlapping_archive(16, bytes(64 * 1024)))

    w.raw("text.txt", b"these are not the weights you are looking for\n")
    w.raw("empty.pth", b"")
    w.raw("page.pth", b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n")
    w.raw("lfs.pth", b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n")

    f32 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    w.raw("st-header-too-big.safetensors", raw_safetensors('{"a":1}', b"", length=1000))
    w.raw("st-absurd-header.safetensors", raw_safetensors("{}", b"", length=2**40))
    w.raw("st-out-of-range.safetensors", raw_safetensors({"a": f32}, b"\0" * 8))
    w.raw("st-overlap.safetensors", raw_safetensors(
        {"a": f32, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24))
    w.raw("st-size-mismatch.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16))
    w.raw("st-unknown-dtype.safetensors", raw_safetensors(
        {"a": {"dtype": "F7", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16))
    w.raw("st-duplicate.safetensors", raw_safetensors(
        '{"a":' + json.dumps(f32) + ',"a":' + json.dumps(f32) + "}", b"\0" * 16))
    w.raw("st-bad-json.safetensors", raw_safetensors('{"a":{"dtype":"F32",', b"\0" * 16))
    w.raw("st-trailing.safetensors", raw_safetensors({"a": f32}, b"\0" * 20))
    w.raw("st-gap.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [4, 20]}}, b"\0" * 20))
    w.raw("st-metadata.safetensors", raw_safetensors({"__metadata__": {"a": 1}}, b""))
    w.raw("st-too-many-dims.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, b"\0" * 4))
    w.raw("st-shape-overflow.safetensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]}}, b"\0" * 16))


def write_mutants(w, count):
    """Archives around mutated copies of small.pth's data.pkl, with valid CRCs so that the
    unpickler itself sees the damage: fuzz-NNN.pth."""
    with zipfile.ZipFile(w.path("small.pth")) as z:
        members = {name: z.read(name) for name in z.namelist()}
    pkl = members["small/data.pkl"]
    rng = random.Random(1950)
    opcodes = b"(.012NJKMGXqhjrcRbQtsuae]})\x85\x86\x87\x88\x89\x8a\x8b\x8c\x93\x94\x95io\x81"
    for i in range(count):
        data = bytearray(pkl)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            kind = rng.randrange(5)
            if kind == 0:
                data[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                data[at] = rng.choice(opcodes)
            elif kind == 2:
                del data[at:at + rng.randint(1, 16)]
            elif kind == 3:
                data[at:at] = data[rng.randrange(len(data)):][: rng.randint(1, 32)]
            else:
                data[at:at + 4] = struct.pack("<I", rng.choice([0, 255, 2**31 - 1, 2**32 - 1]))
        with zipfile.ZipFile(w.path(f"fuzz-{i:03d}.pth"), "w") as z:
            for name, member in members.items():
                z.writestr(name, bytes(data) if name == "small/data.pkl" else member)


def write_leafnet(w, path):
    """What PyTorch reads in the shared pretrained file, to compare with our reader."""
    state_dict = torch.load(path, map_location="cpu")
    for key, t in state_dict.items():
        shape = ",".join(str(d) for d in t.shape)
        digest = hashlib.sha256(tensor_bytes(t)).hexdigest()
        w.expected.write(f"leafnet\t{key}\t{DTYPE_NAMES[t.dtype]}\t{shape}\t{digest}\n")


def check_safetensors(path, reference, pairs):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    text = data[8:8 + n]
    stripped = text.rstrip(b" ")
    assert n % 8 == 0 and len(text) - len(stripped) < 8, "header not padded to 8 bytes"
    entries = json.loads(stripped, object_pairs_hook=list)
    metadata = dict(entries[0][1]) if entries and entries[0][0] == "__metadata__" else {}
    tensors = [e for e in entries if e[0] != "__metadata__"]
    assert metadata == dict(p.split("=", 1) for p in pairs), f"metadata {metadata}"

    expected = torch.load(reference, map_location="cpu")
    order = sorted(expected, key=lambda k: (-SAFE_DTYPES[expected[k].dtype][1], k))
    assert [name for name, _ in tensors] == order, "tensor order differs from the reference's"
    offset, body = 0, data[8 + n:]
    for name, info in tensors:
        info = dict(info)
        want = expected[name]
        assert info["dtype"] == SAFE_DTYPES[want.dtype][0], f"{name}: dtype {info['dtype']}"
        assert info["shape"] == list(want.shape), f"{name}: shape {info['shape']}"
        begin, end = info["data_offsets"]
        assert begin == offset, f"{name}: data starts at {begin}, not {offset}"
        if want.numel() == 0:
            got = torch.empty(want.shape, dtype=want.dtype)
        else:
            got = torch.frombuffer(bytearray(body[begin:end]), dtype=want.dtype).reshape(want.shape)
        assert torch.equal(got, want), f"{name}: values differ"
        offset = end
    assert offset == len(body), "bytes after the last tensor"
    print(f"ok: {len(tensors)} tensors")


def check_torch(path, reference):
    got = torch.load(path, map_location="cpu", weights_only=True)
    want = torch.load(reference, map_location="cpu")
    want = want.get("state_dict", want)
    assert type(got) is collections.OrderedDict, f"a {type(got)}, not an OrderedDict"
    assert list(got) == list(want), "other names, or in another order"
    for name, t in want.items():
        assert got[name].dtype == t.dtype, f"{name}: dtype {got[name].dtype}"
        assert got[name].shape == t.shape, f"{name}: shape {got[name].shape}"
        assert got[name].is_contiguous(), f"{name}: not contiguous"
        assert torch.equal(got[name], t), f"{name}: values differ"
    print(f"ok: {len(got)} tensors")


def main():
    if sys.argv[1] == "check-safetensors":
        check_safetensors(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    if sys.argv[1] == "check-torch":
        check_torch(sys.argv[2], sys.argv[3])
        return
    outdir = sys.argv[1]
    minimal = "--minimal" in sys.argv
    w = Writer(outdir)
    write_good(w, minimal)
    if not minimal:
        write_hostile(w)
        write_mutants(w, 400)
    if "--leafnet" in sys.argv:
        write_leafnet(w, sys.argv[sys.argv.index("--leafnet") + 1])
    w.expected.close()
    w.files.close()


if __name__ == "__main__":
    main()

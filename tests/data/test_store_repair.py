"""`diamond store check|repair` on real stores: damaged episodes found, moved aside byte for byte, the rest
reindexed in order; repeating is harmless, a killed repair is finished by the next one, and a store open
for writing elsewhere is refused (spec §3 store)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from data_helpers import assert_episodes_equal, labelled_episode, random_episode

from diamond.cli import main
from diamond.data import CorruptEpisodeFile, EpisodeStore, StoreError
from diamond.data.repair import check_store, repair_store

DRIVER = Path(__file__).with_name("repair_crash_driver.py")
LENGTHS = [3, 4, 5, 6, 7]


def make_store(root: Path, metadata: dict, lengths=LENGTHS) -> list:
    episodes = [random_episode(n, seed=i) for i, n in enumerate(lengths)]
    with EpisodeStore.create(root, metadata) as store:
        for e in episodes:
            store.add(e)
    return [EpisodeStore.open(root, read_only=True).get(i) for i in range(len(episodes))]  # as stored (dtypes)


def flip_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    return bytes(data)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_check_names_the_damaged_episode_and_repair_moves_it_aside(tmp_path, metadata, capsys):
    root = tmp_path / "s"
    episodes = make_store(root, metadata)
    damaged = flip_byte(root / "000000002.ep")

    code, out = run(capsys, "store", "check", root)
    assert code == 1
    assert "episode 2 (000000002.ep, 5 agent steps)" in out and "CRC-32" in out and "repair" in out

    code, out = run(capsys, "store", "repair", root)
    assert code == 0, out
    assert "lost 1 episode(s) and 5 agent steps" in out and "now holds 4 episodes (was 5)" in out
    assert (root / "damaged" / "000000002.ep").read_bytes() == damaged
    assert not (root / "000000002.ep").exists()
    store = EpisodeStore.open(root, read_only=True)
    assert len(store) == 4 and store.lengths.tolist() == [3, 4, 6, 7]
    for i, original in enumerate([0, 1, 3, 4]):  # the others, identical and in collection order
        assert_episodes_equal(store.get(i), episodes[original])
    (record,) = json.loads((root / "repairs.json").read_text())["repairs"]
    assert record["status"] == "done" and record["steps_lost"] == 5 and record["started"] and record["finished"]
    (removed,) = record["removed"]
    assert removed["id"] == 2 and removed["file"] == "000000002.ep" and removed["moved_to"] == "damaged/000000002.ep"
    assert removed["length"] == 5 and "CRC-32" in removed["reason"]

    assert run(capsys, "store", "check", root)[0] == 0
    before = snapshot(root)
    code, out = run(capsys, "store", "repair", root)  # a second repair finds nothing and changes nothing
    assert code == 0 and "nothing to repair" in out
    assert snapshot(root) == before

    with EpisodeStore.open(root) as store:  # the repaired store takes new episodes after the others
        assert store.add(labelled_episode(8)) == 4
    assert (root / "000000005.ep").exists()  # a new serial: the damaged one's is never reused
    reopened = EpisodeStore.open(root, read_only=True)
    assert reopened.lengths.tolist() == [3, 4, 6, 7, 8]
    assert_episodes_equal(reopened.get(4), labelled_episode(8))
    assert check_store(root).clean


def test_reading_a_damaged_episode_points_at_repair(tmp_path, metadata):
    root = tmp_path / "s"
    make_store(root, metadata)
    flip_byte(root / "000000001.ep")
    with pytest.raises(CorruptEpisodeFile, match=r"000000001\.ep.*CRC-32(.|\n)*diamond store repair"):
        EpisodeStore.open(root, read_only=True).get(1)
    (root / "000000003.ep").write_bytes((root / "000000003.ep").read_bytes()[:-10])  # a truncation stops open
    with pytest.raises(CorruptEpisodeFile, match=r"000000003\.ep(.|\n)*diamond store repair"):
        EpisodeStore.open(root)


def test_truncated_missing_and_unindexed_damaged_files(tmp_path, metadata, capsys):
    root = tmp_path / "s"
    episodes = make_store(root, metadata)
    truncated = (root / "000000001.ep").read_bytes()[:-7]
    (root / "000000001.ep").write_bytes(truncated)
    (root / "000000003.ep").unlink()
    # An episode written but not yet indexed when a writer was killed, and damaged since.
    (root / "000000005.ep").write_bytes((root / "000000004.ep").read_bytes()[:50])

    report = check_store(root)
    assert [(d.id, d.file, d.length) for d in report.damaged] == [
        (1, "000000001.ep", 4),
        (3, "000000003.ep", 6),
        (None, "000000005.ep", None),
    ]
    assert "truncated" in report.damaged[0].reason and "missing" in report.damaged[1].reason

    code, out = run(capsys, "store", "repair", root)
    assert code == 0, out
    assert "lost 3 episode(s) and 10 agent steps" in out and "its file was missing" in out
    assert (root / "damaged" / "000000001.ep").read_bytes() == truncated
    store = EpisodeStore.open(root)
    assert store.lengths.tolist() == [3, 5, 7]
    for i, original in enumerate([0, 2, 4]):
        assert_episodes_equal(store.get(i), episodes[original])
    assert store.add(labelled_episode(2)) == 3
    assert (root / "000000006.ep").exists()
    store.close()
    assert check_store(root).clean


def test_repair_never_overwrites_what_is_in_damaged(tmp_path, metadata, capsys):
    root = tmp_path / "s"
    make_store(root, metadata)
    (root / "damaged").mkdir()
    (root / "damaged" / "000000002.ep").write_bytes(b"an earlier find")
    damaged = flip_byte(root / "000000002.ep")
    assert run(capsys, "store", "repair", root)[0] == 0
    assert (root / "damaged" / "000000002.ep").read_bytes() == b"an earlier find"
    assert (root / "damaged" / "000000002.1.ep").read_bytes() == damaged


def test_roll_back_and_recovery_across_the_gap_a_repair_leaves(tmp_path, metadata):
    root = tmp_path / "s"
    episodes = make_store(root, metadata)
    flip_byte(root / "000000002.ep")
    repair_store(root)
    with EpisodeStore.open(root) as store:  # files 000000003.ep and 000000004.ep are episodes 2 and 3
        assert store.roll_back(2) == 2
    assert sorted(p.name for p in root.glob("*.ep")) == ["000000000.ep", "000000001.ep"]

    make_store(tmp_path / "t", metadata)
    flip_byte(tmp_path / "t" / "000000002.ep")
    repair_store(tmp_path / "t")
    index = json.loads((tmp_path / "t" / "index.json").read_text())
    index["episodes"] = index["episodes"][:2]  # killed inside roll_back(2): the index rewritten, files still there
    (tmp_path / "t" / "index.json").write_text(json.dumps(index))
    with EpisodeStore.open(tmp_path / "t") as store:  # the files after the gap are re-indexed, in order
        assert store.lengths.tolist() == [3, 4, 6, 7]
        assert_episodes_equal(store.get(3), episodes[4])


class FakeCount:
    """An episode count kept outside the store, like a run checkpoint's."""

    def __init__(self, value: int) -> None:
        self.value, self.name, self.writes = value, "fake checkpoint", 0

    def read(self) -> int:
        return self.value

    def write(self, n: int) -> None:
        self.value, self.writes = n, self.writes + 1


def test_repair_adjusts_an_outside_episode_count_by_the_episodes_removed_below_it(tmp_path, metadata):
    root = tmp_path / "s"
    make_store(root, metadata, lengths=[2, 2, 2, 2, 2, 2])
    for name in ("000000001.ep", "000000002.ep", "000000005.ep"):
        flip_byte(root / name)
    count = FakeCount(4)  # a checkpoint after episode 3: episodes 4 and 5 came after it
    result = repair_store(root, count)
    assert count.value == 2 and count.writes == 1 and result.count_change == ("fake checkpoint", 4, 2)
    with EpisodeStore.open(root) as store:  # a resume from that checkpoint drops what came after it
        assert store.roll_back(count.value) == 1
    assert repair_store(root, count).removed == [] and count.writes == 1


@pytest.mark.parametrize("stop_after", ["_commit_index", "_adjust_count"])
def test_a_resumed_repair_changes_the_outside_count_exactly_once(tmp_path, metadata, monkeypatch, stop_after):
    from diamond.data import repair

    root = tmp_path / "s"
    make_store(root, metadata)
    flip_byte(root / "000000001.ep")
    count = FakeCount(4)

    step = getattr(repair, stop_after)

    def interrupted(*args):
        step(*args)
        raise KeyboardInterrupt  # stands for a kill: every step before it is on disk

    monkeypatch.setattr(repair, stop_after, interrupted)
    with pytest.raises(KeyboardInterrupt):
        repair_store(root, count)
    monkeypatch.undo()
    assert count.value == (4 if stop_after == "_commit_index" else 3)
    with pytest.raises(StoreError, match=r"changes the episode count in fake checkpoint"):
        repair_store(root)  # finishing it without the count it started with is refused
    result = repair_store(root, count)
    assert result.resumed and count.value == 3 and count.writes == 1
    assert EpisodeStore.open(root, read_only=True).lengths.tolist() == [3, 5, 6, 7]


@pytest.mark.parametrize("step", ["_write_record", "_commit_index", "link", "_move_damaged"])
def test_a_repair_killed_after_any_step_leaves_a_store_that_opens_and_repair_finishes_it(
    tmp_path, metadata, capsys, step
):
    root = tmp_path / "s"
    episodes = make_store(root, metadata)
    damaged = flip_byte(root / "000000002.ep")
    proc = subprocess.run(
        [sys.executable, str(DRIVER), step, str(root)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr

    reader = EpisodeStore.open(root, read_only=True)  # it opens, and every episode it lists but one reads back
    assert len(reader) in (4, 5)
    with EpisodeStore.open(root) as writer:  # so does a writer, which refuses to change it until repaired
        with pytest.raises(StoreError, match=r"interrupted(.|\n)*diamond store repair"):
            writer.add(labelled_episode(3))
        with pytest.raises(StoreError, match="interrupted"):
            writer.roll_back(1)
    code, out = run(capsys, "store", "check", root)
    assert code == 1 and "interrupted" in out

    code, out = run(capsys, "store", "repair", root)
    assert code == 0, out
    assert "finished the interrupted repair" in out and "lost 1 episode(s) and 5 agent steps" in out
    assert (root / "damaged" / "000000002.ep").read_bytes() == damaged
    assert sorted(p.name for p in (root / "damaged").iterdir()) == ["000000002.ep"]
    store = EpisodeStore.open(root, read_only=True)
    assert store.lengths.tolist() == [3, 4, 6, 7]
    for i, original in enumerate([0, 1, 3, 4]):
        assert_episodes_equal(store.get(i), episodes[original])
    assert len(json.loads((root / "repairs.json").read_text())["repairs"]) == 1
    assert check_store(root).clean


def test_repair_of_a_store_open_for_writing_elsewhere_is_refused(tmp_path, metadata, capsys):
    root = tmp_path / "s"
    make_store(root, metadata)
    flip_byte(root / "000000002.ep")
    before = snapshot(root)
    code = "import sys; from diamond.data import EpisodeStore; s = EpisodeStore.open(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        code, out = run(capsys, "store", "repair", root)
        assert code == 2
        assert f"cannot repair episode store {root}: another process has it open for writing" in out
        assert snapshot(root) == before
    finally:
        holder.communicate("", timeout=60)
    assert run(capsys, "store", "repair", root)[0] == 0


def test_store_or_run_folder_and_bad_dirs(tmp_path, metadata, capsys):
    run_dir = tmp_path / "run"
    make_store(run_dir / "data" / "train", metadata)
    flip_byte(run_dir / "data" / "train" / "000000000.ep")
    code, out = run(capsys, "store", "check", run_dir)
    assert code == 1 and "000000000.ep" in out
    code, out = run(capsys, "store", "check", tmp_path / "nowhere")
    assert code == 2 and "nowhere does not exist" in out
    (tmp_path / "plain").mkdir()
    code, out = run(capsys, "store", "repair", tmp_path / "plain")
    assert code == 2 and "neither metadata.json nor data/train/metadata.json" in out
    assert run(capsys, "store", "repair", run_dir)[0] == 0
    assert EpisodeStore.open(run_dir / "data" / "train", read_only=True).lengths.tolist() == [4, 5, 6, 7]

"""One-step-scale training smoke test on real synthesized speech, with resume and export."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream
from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact
from streamasr.model.step import init_params
from train import checkpoint, data
from train.configs.default import TrainConfig, get_config, get_smoke_config
from train.corpus.voices import CLASSIC_ENGINES_TO_HOLD_OUT, HELDOUT_ENGINES
from train.train import (
    DEADLINE_MIN_RESERVE,
    Deadline,
    collapse,
    create_train_state,
    learning_rate,
    make_optimizer,
    make_train_step,
    train_and_evaluate,
)

pytestmark = pytest.mark.slow  # training runs: tens of seconds each

SENTENCES = ["one two three", "hello there", "good morning to you", "stop", "go left", "yes no"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    lines = []
    for i, text in enumerate(SENTENCES):
        wav = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
        lines.append(json.dumps({"audio_filepath": wav.name, "duration": 1.0, "text": text}))
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_training_runs_resumes_and_exports_a_loadable_model(manifest: Path, tmp_path: Path) -> None:
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),)
    )
    model = train_and_evaluate(config, tmp_path)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    evals = [r for r in log if r["kind"] == "eval"]
    assert evals and evals[-1]["train/cer"] >= 0
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert model.info and model.info["steps"] == config.num_steps
    # Every validation leaves the model as of its step beside the checkpoint (a run cut off
    # still has one to copy away); after the last, it is the model the run returns.
    latest = artifact.load(tmp_path / "latest.streamasr")
    assert latest.info and latest.info["steps"] == config.num_steps
    for a, b in zip(jax.tree_util.tree_leaves(latest.params),
                    jax.tree_util.tree_leaves(model.params), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    # Resuming with a larger budget continues from the checkpoint, not from scratch.
    more = train_and_evaluate(config.replace(num_steps=6), tmp_path)
    assert more.info and more.info["steps"] == config.num_steps  # schedule fixed at first run
    out = tmp_path / "model.streamasr"
    artifact.save(model, out)
    loaded = artifact.load(out)
    stream = Stream(Recognizer(loaded), 22050)
    stream.accept(np.zeros(4000, np.float32))
    assert stream.finish()[-1].is_final


def test_batches_pad_mask_and_respect_the_frame_budget(manifest: Path, tmp_path: Path) -> None:
    config = get_smoke_config()
    features = data.load_features([manifest], config.features, tmp_path)
    assert len(features) == len(SENTENCES)
    stats = data.compute_stats(features)
    keep = data.usable(features, config.length_buckets, config.model.frames_per_step)
    seen = []
    for batch in data.batches(
        features, keep, config.length_buckets, config.batch_frames, stats, np.random.default_rng(0)
    ):
        b, t, _ = batch.frames.shape
        assert b * t <= max(config.batch_frames, t)
        for row, i in enumerate(batch.indices.tolist()):
            if i < 0:
                assert batch.frame_paddings[row].all()
                continue
            seen.append(i)
            n = features.lengths()[i]
            assert batch.frame_paddings[row, :n].sum() == 0 and batch.frame_paddings[row, n:].all()
            assert not batch.frames[row, n:].any()
            assert batch.label_paddings[row].sum() == batch.labels.shape[1] - len(
                features.labels[i]
            )
    assert sorted(seen) == sorted(keep.tolist())
    # The cache is used on the second call.
    again = data.load_features([manifest], config.features, tmp_path)
    np.testing.assert_array_equal(again.frames, features.frames)


def test_held_out_engines_never_reach_training(manifest: Path, tmp_path: Path) -> None:
    voices = ["rhvoice/alan", "espeak/en-us+m3", "pico/en-US", "kokoro/en-us-3", "piper/joe", ""]
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    tagged = tmp_path / "voices.jsonl"
    tagged.write_text(
        "".join(
            json.dumps({**r, "audio_filepath": str(manifest.parent / r["audio_filepath"]),
                        "voice": v}) + "\n"
            for r, v in zip(lines, voices, strict=True)
        )
    )  # fmt: skip
    config = TrainConfig(heldout_engines=tuple(CLASSIC_ENGINES_TO_HOLD_OUT | HELDOUT_ENGINES))
    assert "piper" in TrainConfig().heldout_engines  # the neural engine no run hears
    kept = data.load_features(
        [tagged], config.features, tmp_path, exclude_engines=config.heldout_engines
    )
    assert kept.voices == ["espeak/en-us+m3", "kokoro/en-us-3", ""]
    assert kept.texts == [SENTENCES[1], SENTENCES[3], SENTENCES[5]]
    # A limit counts the kept utterances, not the manifest's first lines.
    first = data.load_features(
        [tagged], config.features, tmp_path, limit=2, exclude_engines=config.heldout_engines
    )
    assert first.voices == ["espeak/en-us+m3", "kokoro/en-us-3"]
    assert len(data.load_features([tagged], config.features, tmp_path)) == len(SENTENCES)
    with pytest.raises(ValueError, match="heldout_engines must name known engines"):
        config.replace(heldout_engines=("rhvoices",))


def test_a_manifest_listed_twice_is_featurised_once(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = get_smoke_config()
    twice = data.load_features([manifest, manifest], config.features, tmp_path)
    assert f"featurising {len(SENTENCES)} audio files for {2 * len(SENTENCES)}" in (
        capsys.readouterr().err
    )
    assert len(twice) == 2 * len(SENTENCES)
    for i in range(len(SENTENCES)):  # each copy has its own rows, equal to the first's
        np.testing.assert_array_equal(twice.utterance(i), twice.utterance(i + len(SENTENCES)))
    assert twice.texts == SENTENCES + SENTENCES


def test_ctc_feasibility_counts_repeats() -> None:
    assert data.ctc_feasible([1, 2, 3], 3)
    assert not data.ctc_feasible([1, 1, 2], 3)
    assert data.ctc_feasible([1, 1, 2], 4)


def test_schedule_warms_up_then_decays() -> None:
    config = get_smoke_config().replace(warmup_steps=10, peak_learning_rate=1.0)
    lrs = [learning_rate(config, s, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(lrs[:10])), "warmup rises"
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:])), "then it only decays"
    assert lrs[-1] == pytest.approx(config.final_learning_rate_fraction, abs=0.01)


def test_collapse_is_greedy_ctc() -> None:
    from streamasr.vocab import SYMBOLS

    ids = [0, SYMBOLS.index("a"), SYMBOLS.index("a"), 0, SYMBOLS.index("a"), SYMBOLS.index(" ")]
    assert collapse(np.array(ids)) == "aa"


def test_autoencoder_pretraining_learns_and_initialises_ctc(manifest: Path, tmp_path: Path) -> None:
    from streamasr.model.step import init_params
    from train.pretrain import merge_pretrained, pretrain

    config = get_smoke_config()
    features = data.load_features([manifest], config.features, tmp_path)
    stats = data.compute_stats(features)
    keep = data.usable(features, config.length_buckets, config.model.frames_per_step)
    encoder, losses = pretrain(
        config.model, features, keep, stats, config.length_buckets, config.batch_frames,
        layers=1, max_steps=60, minutes=5, learning_rate=3e-3,
    )  # fmt: skip
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), "reconstruction should improve"
    assert set(encoder) == {"conv0", "conv0_norm", "conv1", "conv1_norm", "conv2", "conv2_norm",
                            "lstm0"}  # fmt: skip
    import jax

    fresh = init_params(config.model, jax.random.PRNGKey(5))
    merged = merge_pretrained(fresh, encoder)
    np.testing.assert_array_equal(merged["lstm0"]["w_h"], encoder["lstm0"]["w_h"])
    np.testing.assert_array_equal(merged["output"]["kernel"], fresh["output"]["kernel"])
    with pytest.raises(ValueError, match="not in the model"):
        merge_pretrained(fresh, {"lstm9": encoder["lstm0"]})


def test_training_with_pretraining_and_a_tenth_of_the_transcripts(
    manifest: Path, tmp_path: Path
) -> None:
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),),
        valid_manifests=(str(manifest),),
        pretrain="autoencoder",
        pretrain_minutes=0.1,
        transcribed_fraction=0.1,
    )
    model = train_and_evaluate(config, tmp_path)
    assert model.info and model.info["steps"] == config.num_steps


def test_vae_learns_a_real_elbo_and_draws_from_the_prior(manifest: Path, tmp_path: Path) -> None:
    import jax
    from flax import serialization

    from train.vae import plot, resample_features, sample_prior, train_vae

    config = get_smoke_config()
    fps = config.model.frames_per_step
    features = data.load_features([manifest], config.features, tmp_path)
    stats = data.compute_stats(features)
    model, params, history = train_vae(
        features, np.arange(len(features)), stats, fps, 16, steps=300, batch=128, seed=1
    )
    first, last = np.mean(history[:10], axis=0), np.mean(history[-10:], axis=0)
    assert last.sum() < 0.7 * first.sum(), "the negative ELBO should fall"
    assert last[0] < first[0], "reconstruction should improve"
    assert last[1] > 0.5, "a KL near zero would mean the latent carries nothing (collapse)"

    frames = stats.apply(features.utterance(0)[: 8 * fps].astype(np.float32))[None]
    one = resample_features(model, params, frames, fps, jax.random.PRNGKey(0))
    two = resample_features(model, params, frames, fps, jax.random.PRNGKey(1))
    assert one.shape == frames.shape and np.isfinite(one).all()
    assert np.abs(one - two).max() > 1e-3, "draws from q(z|x) should differ"
    assert np.corrcoef(one.ravel(), frames.ravel())[0, 1] > 0.3, "... but keep the speech"
    prior = sample_prior(model, params, 8, jax.random.PRNGKey(2))
    assert prior.shape == (8, fps * frames.shape[-1]) and np.isfinite(prior).all()
    steps = frames[0].reshape(-1, fps * frames.shape[-1])
    plot(steps, one[0].reshape(steps.shape), prior, fps, frames.shape[-1], tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 5000

    # The trainer takes it as the frontend="vae" initialisation and as augmentation.
    vae_file = tmp_path / "vae.msgpack"
    vae_file.write_bytes(serialization.msgpack_serialize(params))
    run = get_smoke_config().replace(
        train_manifests=(str(manifest),),
        valid_manifests=(str(manifest),),
        model=config.model.replace(frontend="vae"),
        vae_path=str(vae_file),
        vae_frontend=True,
        vae_augment=1.0,
    )
    trained = train_and_evaluate(run, tmp_path / "run")
    assert trained.model.frontend == "vae" and trained.info and trained.info["steps"] == 4
    with pytest.raises(ValueError, match="no VAE model"):
        train_and_evaluate(run.replace(vae_path=str(tmp_path / "none")), tmp_path / "run2")


def test_vtlp_warps_what_training_sees(manifest: Path, tmp_path: Path) -> None:
    import jax

    base = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),), num_steps=3
    )

    def trained(config: TrainConfig, name: str) -> list[np.ndarray]:
        model = train_and_evaluate(config, tmp_path / name, feature_cache=tmp_path / "features")
        return [np.asarray(x) for x in jax.tree_util.tree_leaves(model.params)]

    plain, again, warped = (
        trained(base, "a"),
        trained(base, "b"),
        trained(base.replace(vtlp=0.2), "c"),
    )
    assert all(np.array_equal(x, y) for x, y in zip(plain, again, strict=True))  # deterministic
    assert not all(np.array_equal(x, y) for x, y in zip(plain, warped, strict=True))


def test_fine_tuning_starts_from_the_model_and_keeps_its_normalisation(
    manifest: Path, tmp_path: Path
) -> None:
    import jax

    base = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),), num_steps=3
    )
    start = train_and_evaluate(base, tmp_path / "start", feature_cache=tmp_path / "features")
    start_path = tmp_path / "start.streamasr"
    # Statistics that differ from the corpus's own show which ones fine-tuning uses.
    shifted = FeatureStats(start.stats.mean + 1.0, start.stats.std * 2.0)
    artifact.save(dataclasses.replace(start, stats=shifted), start_path)

    def leaves(model: artifact.ModelArtifact) -> list[np.ndarray]:
        return [np.asarray(x) for x in jax.tree_util.tree_leaves(model.params)]

    # With a vanishing learning rate the weights stay where the model file put them,
    # far from a fresh initialisation (which the same seed would reproduce).
    still = base.replace(init_model=str(start_path), peak_learning_rate=1e-12, warmup_steps=1)
    tuned = train_and_evaluate(still, tmp_path / "still", feature_cache=tmp_path / "features")
    for x, y in zip(leaves(start), leaves(tuned), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
    np.testing.assert_array_equal(tuned.stats.mean, shifted.mean)
    np.testing.assert_array_equal(tuned.stats.std, shifted.std)

    moving = train_and_evaluate(
        base.replace(init_model=str(start_path)), tmp_path / "moving", tmp_path / "features"
    )
    assert not all(np.allclose(x, y) for x, y in zip(leaves(start), leaves(moving), strict=True))

    other_shape = base.replace(model=base.model.replace(rnn_hidden=8), init_model=str(start_path))
    with pytest.raises(ValueError, match="shape"):
        train_and_evaluate(other_shape, tmp_path / "other", feature_cache=tmp_path / "features")


def test_fine_tuning_cli_takes_the_shape_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from train.__main__ import main as train_main

    assert train_main(["--init", str(tmp_path / "missing.streamasr"), "--steps", "1"]) == 2
    assert "no such model file" in capsys.readouterr().err
    bundled = str(artifact.DEFAULT_MODEL_PATH)
    assert train_main(["--init", bundled, "--cell", "gru", "--steps", "1"]) == 2
    assert "shape from the file" in capsys.readouterr().err


def test_the_files_a_config_names_are_checked_before_any_work(tmp_path: Path) -> None:
    """A wrong model or VAE file fails at once: no work directory, no features loaded
    (the manifest does not even exist, and is not what the error is about)."""
    from flax import serialization

    base = get_smoke_config().replace(train_manifests=(str(tmp_path / "none.jsonl"),))
    workdir = tmp_path / "run"
    bundled = str(artifact.DEFAULT_MODEL_PATH)  # 80 log-mel bands, not the smoke config's 20
    with pytest.raises(ValueError, match="init_model has shape"):
        train_and_evaluate(base.replace(init_model=bundled), workdir)
    with pytest.raises(ValueError, match="no VAE model"):
        train_and_evaluate(base.replace(vae_path=str(tmp_path / "none"), vae_augment=0.5), workdir)
    wrong = tmp_path / "vae.msgpack"  # reads 7 values a step; the smoke model's step has 4 x 20
    wrong.write_bytes(
        serialization.msgpack_serialize({"step_projection": {"kernel": np.zeros((7, 16))}})
    )
    with pytest.raises(ValueError, match="reads 7 values per step"):
        train_and_evaluate(base.replace(vae_path=str(wrong), vae_augment=0.5), workdir)
    assert not workdir.exists()


def test_cli_refuses_a_bad_value_before_any_work(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from train.__main__ import main as train_main

    run = [
        "--train",
        str(manifest),
        "--workdir",
        str(tmp_path / "w"),
        "--export",
        str(tmp_path / "m"),
    ]
    assert train_main([*run, "--vae-augment", "0.5"]) == 2  # and no --vae
    assert "vae_path must name a VAE model file" in capsys.readouterr().err
    assert train_main([*run, "--minutes", "0"]) == 2
    assert "time_budget_minutes must be positive, got 0.0" in capsys.readouterr().err
    assert train_main([*run, "--deadline", "-1"]) == 2
    assert "deadline_minutes must be >= 0 (0: none), got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_cli_help_shows_the_configs_defaults() -> None:
    from train.__main__ import parser

    recipe = get_config().replace(peak_learning_rate=7e-4, pretrain_minutes=12.5, vtlp=0.25)
    text = " ".join(parser(recipe).format_help().split())
    assert "AdamW peak (default 0.0007)" in text
    assert "its budget (default 12.5)" in text
    assert "+-this share (e.g. 0.1; default 0.25)" in text


def test_a_run_exports_into_its_workdir_unless_told_where() -> None:
    from train.__main__ import export_path, parser

    args = parser(get_config()).parse_args(["--workdir", "runs/x"])
    assert export_path(args) == Path("runs/x/model.streamasr")
    args = parser(get_config()).parse_args(["--workdir", "runs/x", "--export", "m.streamasr"])
    assert export_path(args) == Path("m.streamasr")


def test_training_runs_numpy_blas_on_one_thread(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The augmentations' small matrix products must not start OpenBLAS's per-core threads,
    # which spin against XLA's for the same cores (train_and_evaluate's comment).
    from threadpoolctl import threadpool_info

    import train.train as trainer

    def blas_threads() -> list[int]:
        # numpy's own BLAS, which np.matmul uses (scipy's, loaded later by other imports,
        # carries none of the augmentations' work)
        return [
            p["num_threads"]
            for p in threadpool_info()
            if p["user_api"] == "blas" and "numpy" in p["filepath"]
        ]

    seen: list[int] = []
    real_augment = trainer.augment

    def augment(*args: object, **kwargs: object) -> data.Batch:
        seen.extend(blas_threads())
        return real_augment(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "augment", augment)
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),), num_steps=2
    )

    before = blas_threads()
    train_and_evaluate(config, tmp_path)
    assert seen and set(seen) == {1}
    assert blas_threads() == before  # the limit ends with the run


def test_a_deadline_keeps_time_for_the_last_validation() -> None:
    deadline = Deadline.after(100.0, 1.0)
    assert deadline.seconds_left(100.0) == 60.0 - DEADLINE_MIN_RESERVE
    deadline.validation_seconds = 30.0  # a slow validation: keep 1.5 times that
    assert deadline.seconds_left(130.0) == 30.0 - 45.0
    assert Deadline.after(100.0, 0.0).seconds_left(1e9) == math.inf  # 0: no deadline


def test_a_run_cut_by_its_deadline_validates_exports_and_resumes(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Far more steps than fit in the deadline, which counts featurising and compiling too
    # (a lent machine's call limit): the run stops in time, with a model and a checkpoint.
    # The tiny model validates in well under a second: keep 2 s for it, not the default 20.
    monkeypatch.setattr("train.train.DEADLINE_MIN_RESERVE", 2.0)
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),),
        valid_manifests=(str(manifest),),
        num_steps=100_000,
        fixed_steps=True,
        eval_every=100_000,
        deadline_minutes=0.25,
    )
    began = time.monotonic()
    model = train_and_evaluate(config, tmp_path)
    took = time.monotonic() - began
    assert took < 15.0
    assert model.info is not None
    cut_at = model.info["steps"]
    assert 0 < cut_at < config.num_steps
    evals = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals if r["kind"] == "eval"] == [cut_at]
    assert artifact.load(tmp_path / "latest.streamasr").info["steps"] == cut_at
    # Started again, it goes on from the cut (here to a second deadline) with the same plan.
    resumed = train_and_evaluate(config, tmp_path)
    assert resumed.info is not None and resumed.info["steps"] > cut_at


def test_the_weight_average_is_the_decayed_sum_of_each_steps_weights() -> None:
    from tests.train.distributed_worker import global_batch
    from train.parallel import DataParallel

    config = get_smoke_config().replace(ema_decay=0.2)
    parallel = DataParallel.over_visible_devices()
    start = init_params(config.model, jax.random.PRNGKey(0))
    state = create_train_state(config, start, parallel)
    batch = {k: parallel.shard_batch(v) for k, v in global_batch(config).items()}
    step = make_train_step(config)
    # Copies: on a CPU a host view of a device buffer would change as steps reuse it.
    expected = [np.array(leaf) for leaf in jax.tree_util.tree_leaves(start)]
    leaves = jax.tree_util.tree_leaves
    # (1 + n) / (10 + n) at step n while that is below the decay, then the decay
    for d in (1 / 10, 2 / 11, 0.2, 0.2):
        state, _ = step(state, batch, jnp.float32(1e-2))
        trained = [np.array(leaf) for leaf in leaves(state.params)]
        expected = [d * e + (1 - d) * p for e, p in zip(expected, trained, strict=True)]
    got = leaves(jax.device_get(state.ema))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-5, atol=1e-6)
    # The average lags the trained weights.
    assert any(not np.allclose(g, t) for g, t in zip(got, trained, strict=True))


def test_a_run_with_averaging_ships_the_average_and_keeps_it_across_a_resume(
    manifest: Path, tmp_path: Path
) -> None:
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),), ema_decay=0.9
    )
    model = train_and_evaluate(config, tmp_path)
    raw = artifact.load(tmp_path / "latest_raw.streamasr")
    assert model.info is not None and model.info["weights"] == "ema 0.9"
    assert raw.info is not None and raw.info["weights"] == "raw"
    evals = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    last = [r for r in evals if r["kind"] == "eval"][-1]
    assert {"train/cer", "raw train/cer"} <= last.keys()
    path = tmp_path / "checkpoint.msgpack"
    saved = checkpoint.restore(path, raw.params, make_optimizer(config).init(raw.params))
    assert saved.ema is not None
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(saved.ema), leaves(model.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(leaves(saved.params), leaves(raw.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Resumed for two more steps from a checkpoint whose average is zero, the run averages on
    # from it: at steps 4 and 5 the decays are 5/14 and 6/15, so the zeros keep a weight of
    # 1/7 and the new average is about 6/7 of the weights (it would be all of them were the
    # average started afresh from the trained weights).
    zeros = jax.tree_util.tree_map(np.zeros_like, saved.params)
    checkpoint.save(path, dataclasses.replace(saved, ema=zeros, total_steps=6))
    resumed = train_and_evaluate(config, tmp_path)
    trained = artifact.load(tmp_path / "latest_raw.streamasr").params
    assert resumed.info is not None and resumed.info["steps"] == 6
    ratio = float(optax.tree.norm(resumed.params) / optax.tree.norm(trained))
    assert ratio == pytest.approx(1 - 5 / 14 * 6 / 15, abs=0.01)

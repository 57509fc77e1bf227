"""The store's schema: named, append-only migrations, applied in order by core.store.Store and
recorded in the `migrations` table (name, applied_at). Append a new (name, sql) pair at the end;
never edit or reorder one that has shipped: a database records which names it has applied.
"""
from __future__ import annotations

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            name VARCHAR,
            created_at TIMESTAMP,
            updated_at TIMESTAMP,
            finished_at TIMESTAMP,
            status VARCHAR,
            prompt_set VARCHAR,
            prompt_set_hash VARCHAR,
            planned INTEGER,
            spec VARCHAR,
            manifest VARCHAR,
            message VARCHAR,
            pid INTEGER
        );
        CREATE TABLE run_models (
            run_id VARCHAR,
            model VARCHAR,
            model_version VARCHAR,
            backend VARCHAR,
            params BIGINT,
            weights_mb DOUBLE,
            load_time_s DOUBLE,
            load_rss_mb DOUBLE,
            cold_latency_ms DOUBLE,
            device VARCHAR,
            dtype VARCHAR,
            fallback VARCHAR,
            status VARCHAR,
            message VARCHAR,
            PRIMARY KEY (run_id, model)
        );
        CREATE TABLE samples (
            result_key VARCHAR NOT NULL,  -- unique: enforced by delete-then-insert per batch
            run_id VARCHAR,
            model VARCHAR,
            model_version VARCHAR,
            backend VARCHAR,
            prompt_set VARCHAR,
            prompt_set_hash VARCHAR,
            item_id VARCHAR,
            category VARCHAR,
            "repeat" INTEGER,
            seq INTEGER,
            status VARCHAR,
            error_kind VARCHAR,
            error_message VARCHAR,
            attempts INTEGER,
            latency_ms DOUBLE,
            ttft_ms DOUBLE,
            decode_tps DOUBLE,
            input_tokens INTEGER,
            output_tokens INTEGER,
            token_source VARCHAR,
            peak_rss_mb DOUBLE,
            peak_accel_mb DOUBLE,
            output_text VARCHAR,
            quality DOUBLE,
            passed BOOLEAN,
            scores VARCHAR,
            device VARCHAR,
            dtype VARCHAR,
            fallback VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        );
        CREATE TABLE models (
            name VARCHAR PRIMARY KEY,
            spec VARCHAR,
            added_at TIMESTAMP
        );
        CREATE TABLE prompt_sets (
            name VARCHAR PRIMARY KEY,
            description VARCHAR,
            content_hash VARCHAR,
            items VARCHAR,
            n_items INTEGER,
            created_at TIMESTAMP
        );
        CREATE TABLE settings (
            key VARCHAR PRIMARY KEY,
            value VARCHAR
        );
        """,
    ),
    (
        "0002_mlflow_mirror",
        """
        ALTER TABLE runs ADD COLUMN mlflow_run_id VARCHAR;
        ALTER TABLE runs ADD COLUMN mlflow_status VARCHAR;
        ALTER TABLE runs ADD COLUMN mlflow_message VARCHAR;
        """,
    ),
    (
        "0003_http_serving",
        """
        ALTER TABLE run_models ADD COLUMN endpoint VARCHAR;
        ALTER TABLE run_models ADD COLUMN memory_note VARCHAR;
        ALTER TABLE run_models ADD COLUMN concurrency INTEGER;
        ALTER TABLE run_models ADD COLUMN requests_per_s DOUBLE;
        ALTER TABLE run_models ADD COLUMN output_tps DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput_ttft_ms DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput_latency_ms DOUBLE;
        ALTER TABLE run_models ADD COLUMN serving_wall_s DOUBLE;
        """,
    ),
    (
        "0004_measured_power",
        """
        ALTER TABLE run_models ADD COLUMN energy_j DOUBLE;
        ALTER TABLE run_models ADD COLUMN power_w DOUBLE;
        ALTER TABLE run_models ADD COLUMN power_source VARCHAR;
        """,
    ),
    (
        "0005_worker",
        """
        ALTER TABLE runs ADD COLUMN queued_at TIMESTAMP;
        ALTER TABLE samples ADD COLUMN other_cpu DOUBLE;
        CREATE TABLE workers (
            slot VARCHAR PRIMARY KEY,      -- one row: one worker per database
            token VARCHAR,                 -- random id of the worker holding the slot
            pid INTEGER,
            host VARCHAR,
            started_at TIMESTAMP,
            proc_started DOUBLE,           -- the process's start time (epoch s): guards against pid reuse
            beat_at TIMESTAMP,
            beat_deadline TIMESTAMP,       -- stale after this without a new beat
            state VARCHAR,                 -- starting | idle | loading | running | waiting | stopping | stopped
            run_id VARCHAR,
            cores VARCHAR,                 -- JSON list of the measurement cores
            torch_threads INTEGER,
            metrics_port INTEGER,
            loaded VARCHAR,                -- JSON list of the models the loader holds
            log_path VARCHAR,
            message VARCHAR
        );
        CREATE TABLE run_progress (
            run_id VARCHAR PRIMARY KEY,
            updated_at TIMESTAMP,
            doc VARCHAR                    -- JSON: core.jobs.JobSnapshot
        );
        CREATE TABLE run_requests (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            kind VARCHAR,                  -- cancel | unload
            arg VARCHAR,
            created_at TIMESTAMP,
            handled_at TIMESTAMP,
            origin VARCHAR
        );
        """,
    ),
    (
        "0006_memory_footprint",
        """
        -- MB; accelerator memory on CUDA/MPS, RSS on CPU; NULL for runs stored before (shown as missing, never 0)
        ALTER TABLE samples ADD COLUMN mem_added_mb DOUBLE;          -- peak a generation added above the level before it
        ALTER TABLE run_models ADD COLUMN model_footprint_mb DOUBLE; -- memory the loaded model holds (core.loader)
        """,
    ),
    (
        "0007_prompt_set_versions",
        """
        -- every version of every prompt set a run used or a user imported, keyed by (name, content hash):
        -- a run refers to its version, so replacing a set never takes the prompt text from earlier runs
        CREATE TABLE prompt_set_versions (
            name VARCHAR,
            content_hash VARCHAR,
            description VARCHAR,
            items VARCHAR,                 -- JSON list of canonical items
            n_items INTEGER,
            source VARCHAR,                -- imported | bundled (a bundled file's version, kept for its runs)
            created_at TIMESTAMP,
            PRIMARY KEY (name, content_hash)
        );
        INSERT INTO prompt_set_versions
            SELECT name, content_hash, description, items, n_items, 'imported', created_at FROM prompt_sets;
        -- prompt_sets now names the current version of each imported set; its items live above
        UPDATE prompt_sets SET items = NULL;
        """,
    ),
    (
        "0008_champion_history",
        """
        -- the champion's history, append-only (core.champion): a promotion or a rollback adds a row and
        -- no row is ever updated or deleted; settings.champion holds the current champion's model name,
        -- written in the same transaction as each row (so every reader of the setting keeps working)
        CREATE TABLE champion_history (
            seq INTEGER PRIMARY KEY,       -- 1, 2, ...: the order of events
            changed_at TIMESTAMP,          -- UTC; NULL for an adopted setting (when it was set is not known)
            action VARCHAR,                -- promote | rollback | adopted (the setting found by this migration)
            run_id VARCHAR,                -- the champion's evaluation run (NULL when adopted: a model name only)
            model VARCHAR,
            actor VARCHAR,                 -- who: the user and the tool (CLI, dashboard)
            note VARCHAR,
            gate VARCHAR,                  -- JSON: the gate result given as evidence, or NULL
            evidence VARCHAR,              -- JSON: the run's prompt set, its version, the model version, ...
            restores INTEGER               -- rollback: the seq of the row whose champion it restores
        );
        -- the MLflow Model Registry mirror of each history row, append-only (the latest row of a seq wins)
        CREATE TABLE champion_mirror (
            seq INTEGER,
            mirrored_at TIMESTAMP,
            status VARCHAR,                -- synced | pending | disabled | skipped
            registered_model VARCHAR,
            version VARCHAR,
            message VARCHAR
        );
        INSERT INTO champion_history (seq, action, model, actor, note)
            SELECT 1, 'adopted', value, 'migration 0008_champion_history',
                   'the champion set before the history existed (a model name, no run)'
            FROM settings WHERE key = 'champion';
        """,
    ),
    (
        "0009_throughput",
        """
        -- a local throughput sweep (core.throughput): one row per (run, model, batch size)
        CREATE TABLE throughput (
            run_id VARCHAR,
            model VARCHAR,
            batch_size INTEGER,
            n_requests INTEGER,
            tokens_per_s DOUBLE,           -- generated tokens (up to each output's end) / wall time
            requests_per_s DOUBLE,
            latency_ms_mean DOUBLE,        -- per request: its batch's wall time (a request waits for its batch)
            ttft_ms DOUBLE,                -- per request: its batch's first generated token (streamer clock)
            mem_added_mb DOUBLE,           -- largest peak added by one batch (core.measure.TokenClock)
            identical_to_b1 DOUBLE,        -- share of outputs token-identical to batch size 1's
            created_at TIMESTAMP
        );
        """,
    ),
    (
        "0010_judgements",
        """
        -- LLM-judge verdicts (core.judge), append-only: the latest row (highest seq) per (run_id, result_key,
        -- scorer_key) is the sample's judgement; pairwise rows per (run_id, item_id, repeat, model_a, model_b,
        -- answer_order). The judge's tokens, time and cost live here, never in the judged sample's timing.
        CREATE SEQUENCE judgements_seq START 1;
        CREATE TABLE judgements (
            seq BIGINT DEFAULT nextval('judgements_seq'),
            created_at TIMESTAMP,          -- UTC
            run_id VARCHAR,
            result_key VARCHAR,            -- the judged sample (absolute); NULL for pairwise
            model VARCHAR,                 -- the judged model (absolute); NULL for pairwise
            item_id VARCHAR,
            "repeat" INTEGER,
            scorer_key VARCHAR,            -- the sample's scores key (judge, judge#2, ...) | pairwise
            mode VARCHAR,                  -- absolute | pairwise
            judge_model VARCHAR,           -- catalog name of the judge
            judge_version VARCHAR,         -- core.catalog.model_version of the judge
            rubric_hash VARCHAR,           -- sha256 of the rubric template
            cache_key VARCHAR,             -- sha256 of (judge version, rubric hash, rendered judge prompt)
            status VARCHAR,                -- ok | error (unparseable answer, refused prompt) | pending (judge unreachable)
            score DOUBLE,                  -- absolute: the parsed score on the scale
            value DOUBLE,                  -- absolute: (score - scale_min) / (scale_max - scale_min), the stored scores value
            scale_min DOUBLE,
            scale_max DOUBLE,
            model_a VARCHAR,               -- pairwise: the two models compared (as the user named them)
            model_b VARCHAR,
            answer_order VARCHAR,          -- pairwise: AB (model_a shown as Answer A) | BA (model_b shown as Answer A)
            preference VARCHAR,            -- pairwise: A | B | tie, of the answers as shown
            winner VARCHAR,                -- pairwise: model_a | model_b's name, or tie
            raw_text VARCHAR,              -- the judge's answer as generated
            error_kind VARCHAR,            -- parse | core.schemas.ERROR_KINDS of a failed call
            error_message VARCHAR,
            cached BOOLEAN,                -- copied from an earlier identical judgement: no model call, no cost
            input_tokens INTEGER,
            output_tokens INTEGER,
            latency_ms DOUBLE,
            cost_usd DOUBLE                -- HTTP judges with an hourly price: latency x price; else NULL
        );
        """,
    ),
    (
        "0011_ratings",
        """
        -- blind human ratings (core.ratings), append-only: a correction is a new row and no row is ever
        -- updated or deleted; statistics use the latest row (highest seq) per (rater, unit), the history all
        CREATE TABLE ratings (
            seq INTEGER PRIMARY KEY,       -- 1, 2, ...: the order of submissions (the later one wins)
            created_at TIMESTAMP,          -- UTC
            rater VARCHAR,
            run_id VARCHAR,
            mode VARCHAR,                  -- absolute | pairwise
            item_id VARCHAR,
            "repeat" INTEGER,
            model VARCHAR,                 -- absolute: the rated model (NULL when pairwise)
            model_a VARCHAR,               -- pairwise: the model shown as Answer A
            model_b VARCHAR,               -- pairwise: the model shown as Answer B
            score DOUBLE,                  -- absolute: within [scale_min, scale_max]
            preference VARCHAR,            -- pairwise: A | B | tie (of the sides as shown)
            comment VARCHAR,
            scale_min DOUBLE,
            scale_max DOUBLE,
            seed BIGINT,                   -- the rater session's seed that ordered the queue and chose the sides
            origin VARCHAR                 -- dashboard | cli | test
        );
        -- one seed per (rater, run, mode): the blind order and sides are reproducible for a rater
        CREATE TABLE rater_sessions (
            rater VARCHAR,
            run_id VARCHAR,
            mode VARCHAR,
            seed BIGINT,
            created_at TIMESTAMP,
            PRIMARY KEY (rater, run_id, mode)
        );
        """,
    ),
    (
        "0012_throughput_level_kind",
        """
        -- the HTTP concurrency sweep (core.throughput_http) shares the throughput table: level_kind says what
        -- batch_size holds, 'batch' (a batch size, local models) or 'concurrency' (requests in flight, HTTP
        -- models); rows stored before this migration are batch sizes
        ALTER TABLE throughput ADD COLUMN level_kind VARCHAR DEFAULT 'batch';
        UPDATE throughput SET level_kind = 'batch' WHERE level_kind IS NULL;
        """,
    ),
)

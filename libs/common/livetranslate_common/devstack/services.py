"""The project's own services as managed processes: the gateway, the audio pipeline, its
projector and its reprocessing worker, and the monitoring service's analytics worker.

The launcher, the end-to-end tests and the benchmarks start them the same way an operator's
process manager would: as separate processes configured only by environment variables.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from livetranslate_common.devstack.processes import ManagedProcess, http_ready
from livetranslate_common.devstack.stack import DevStack
from livetranslate_common.settings import KafkaSettings


def gateway_process(
    run_dir: Path, *, port: int, env: Mapping[str, str], name: str = "gateway"
) -> ManagedProcess:
    return ManagedProcess(
        name=name,
        command=[sys.executable, "-m", "livetranslate_gateway"],
        pid_file=run_dir / f"{name}.pid",
        log_file=run_dir / f"{name}.log",
        env={**env, "GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1"},
        ready=http_ready(f"http://127.0.0.1:{port}/health"),
        port=port,
        url=f"http://127.0.0.1:{port}",
        stop_timeout=15.0,
    )


def _faust_worker(
    module: str, name: str, run_dir: Path, web_port: int, env: Mapping[str, str]
) -> ManagedProcess:
    """``python -m <module> worker``, ready once its /health answers 200."""
    return ManagedProcess(
        name=name,
        command=[
            sys.executable,
            "-m",
            module,
            "worker",
            "--loglevel=info",
            f"--web-port={web_port}",
            "--web-host=127.0.0.1",
        ],
        pid_file=run_dir / f"{name}.pid",
        log_file=run_dir / f"{name}.log",
        env=env,
        ready=http_ready(f"http://127.0.0.1:{web_port}/health"),
        port=web_port,
        url=f"http://127.0.0.1:{web_port}/health",
        stop_timeout=20.0,
    )


def pipeline_process(
    run_dir: Path, *, web_port: int, env: Mapping[str, str], name: str = "pipeline"
) -> ManagedProcess:
    """The transcribing worker; ready once it has its partitions and the speech model."""
    worker_env = {**env, "PIPELINE_WEB_PORT": str(web_port), "APP_DATADIR": str(run_dir / "faust")}
    return _faust_worker("livetranslate_audio_pipeline", name, run_dir, web_port, worker_env)


def projector_process(
    run_dir: Path, *, web_port: int, env: Mapping[str, str], name: str = "projector"
) -> ManagedProcess:
    """The read-model projector; ready once it has its partitions and the schema is migrated."""
    projector_env = {
        **env,
        "PROJECTOR_WEB_PORT": str(web_port),
        "PROJECTOR_DATA_DIR": str(run_dir / "projector-faust"),
    }
    module = "livetranslate_audio_pipeline.projector"
    return _faust_worker(module, name, run_dir, web_port, projector_env)


def reprocess_process(
    run_dir: Path, *, web_port: int, env: Mapping[str, str], name: str = "reprocess"
) -> ManagedProcess:
    """The reprocessing worker; ready once it has its partitions (models load per run)."""
    reprocess_env = {
        **env,
        "REPROCESS_WEB_PORT": str(web_port),
        "REPROCESS_DATA_DIR": str(run_dir / "reprocess-faust"),
    }
    module = "livetranslate_audio_pipeline.reprocess"
    return _faust_worker(module, name, run_dir, web_port, reprocess_env)


def monitoring_process(
    run_dir: Path, *, web_port: int, env: Mapping[str, str], name: str = "monitoring"
) -> ManagedProcess:
    """The analytics worker; ready once it has its partitions and has recovered its table."""
    monitoring_env = {
        **env,
        "MONITORING_WEB_PORT": str(web_port),
        "MONITORING_DATA_DIR": str(run_dir / f"{name}-faust"),
    }
    return _faust_worker("livetranslate_monitoring", name, run_dir, web_port, monitoring_env)


def add_services(stack: DevStack) -> None:
    """Register the pipeline, the projector, the reprocessing and analytics workers and the
    gateway with the local stack (started after Kafka)."""
    run_dir = stack.stack_dir / "services"
    env = {**stack.service_env(), "LIVETRANSLATE_TOPIC_PREFIX": KafkaSettings().topic_prefix}
    stack.add_service(pipeline_process(run_dir, web_port=stack.ports.pipeline_web, env=env))
    stack.add_service(projector_process(run_dir, web_port=stack.ports.projector_web, env=env))
    stack.add_service(reprocess_process(run_dir, web_port=stack.ports.reprocess_web, env=env))
    stack.add_service(monitoring_process(run_dir, web_port=stack.ports.monitoring_web, env=env))
    analytics_url = f"http://127.0.0.1:{stack.ports.monitoring_web}"
    gateway_env = {**env, "GATEWAY_ANALYTICS_URL": analytics_url}
    stack.add_service(gateway_process(run_dir, port=stack.ports.gateway, env=gateway_env))

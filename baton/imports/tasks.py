from huey.contrib.djhuey import db_task


@db_task()
def import_run(job_id: int):
    """Run an import job in the background; the job page polls its progress."""
    from baton.imports.services import job_run

    job_run(job_id)

"""The output pipeline: how an output is made, whatever queue runs it and whatever engine
draws it. Both job-queue backends run these functions; nothing else makes outputs.

May import services/, guard/, store/, jobqueue/, media/ and errors (not fashn/, its peer).

`make_output(output_id)`, one OUTPUT task, makes one output:

1. hold the output (`JobQueue.exclusive`): no other worker makes it at the same time, and if
   this one dies the hold ends with it, so another can take the output over;
2. claim it (`records.claim`): pending -> processing, `attempts + 1`; an output whose workers
   died `max_job_attempts` times is failed and refunded instead of being tried again;
3. load its inputs (`inputs.load`): identity, upload or garments, the anchor image;
4. call the engine (an engine chain applies its garment lock to engines that repaint);
5. deliver it (`server.delivery`): encode it as it will be stored (a JPEG from a JPEG keeps the
   source's tables and untouched blocks), measure that (`vestis.quality`: face identity, pixels
   kept, sharpness), score it and warn; an output whose face is not the identity is made again
   with other seeds, up to `--identity-retries` times, the best kept;
6. store the image and its thumbnail; a store away for a moment (S3 unreachable, a disk
   error) is tried again after 2, 4, 8 and 16 s (`store.blobs.store_retrying`: the engine's
   result is kept, not made again); a full disk, or a store away for all those tries, fails
   that output and refunds it, and the worker goes on;
7. record it (`records.record`), in one transaction: status, counters, refund of a failure,
   events (`image_result`; `batch_edit` and `completed` when it was the job's last), and the
   tasks of the outputs that waited for it.

`run_job(job_id)`, one JOB task, deferred in the transaction that created the job:

- engines that work per output: the job is marked processing and its outputs are deferred,
  one OUTPUT task each, so several workers share a job. Flat-to-model with `use_anchor` defers
  the anchor output alone; recording the anchor defers the others, which are given its image;
- engines that work per job (`engines.base.JobEngine`, see `whole_jobs`): the job's unfinished
  outputs are held and claimed together and the job goes through `engines.chain.run_job_on_chain`
  in one piece of work (one upstream job for a remote engine), with a `ServerJobContext` for
  checkpoints; each output the engine delivers then goes through steps 5 to 7 like any other
  (measured, not retried: the engine made the job at once).
  Run again after a worker died, it takes up what is left.

Re-running one output as a new version is "add the output row, defer one more OUTPUT task" in
one transaction; the pipeline makes it like any other output.

The pipeline itself is `vestis.server.pipeline.runner.OutputPipeline`; this package imports
nothing, so a process that makes no outputs (the CLI's embedded server for a read) loads none
of the measures' image libraries with `records` or `inputs`.
"""

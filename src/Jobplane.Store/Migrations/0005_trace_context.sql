-- Tracing: the W3C traceparent of the span that submitted an execution. Claims hand it to the
-- worker, whose attempt spans (and the job, through TRACEPARENT) join that trace. Null for
-- executions submitted before tracing existed; nothing is indexed or queried by it.
alter table executions add column trace_parent text;

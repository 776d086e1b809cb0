using System.Text.Json;
using MoePlan.Core.Emit;
using MoePlan.Core.Plan;
using MoePlan.Serving.Proxy;
using MoePlan.Serving.Simulation;

namespace MoePlan.Serving.Reports;

/// <summary>
/// <c>moeplan run --format json</c> and a report's summary.json (docs/simulation.md): the plan, the deployment as served,
/// then one policy's figures, or with <c>--compare-policies</c> a <c>policies</c> array of them. A figure that does not
/// exist (a percentile of no requests, a rate over no time) is null.
/// </summary>
public static class ServingReportJson
{
    /// <summary>One document (no trailing newline) for the runs of <paramref name="planFile"/>; <paramref name="compare"/>: every run, else the first.</summary>
    public static string Write(string planFile, DeploymentPlan plan, ServingConfig config, IReadOnlyList<ServingMetrics> runs, bool compare)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(runs);
        var c = config;
        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("schema", "moeplan/run/v1");
            w.WriteString("plan", planFile);
            // Aggregated plans hand nothing from prefill to decode: their mode is the serving form, not a P/D order.
            w.WriteString("mode", plan.IsAggregated ? "aggregated" : plan.Proxy.Mode.Value.ToString().ToLowerInvariant());
            w.WriteStartObject("deployment");
            w.WriteNumber("prefill_instances", c.PrefillInstances);
            w.WriteNumber("prefill_tokens_per_step", c.PrefillTokenCap);
            w.WriteNumber("prefix_cache_blocks", c.PrefixCacheBlocks);
            w.WriteNumber("decode_instances", c.DecodeInstances);
            w.WriteNumber("decode_sequences", c.DecodeSequenceCap);
            w.WriteNumber("decode_kv_tokens", c.DecodeTokenCap);
            w.WriteNumber("decode_tokens_per_step", c.TokensPerStep);
            w.WriteNumber("kv_transfer_ms_per_token", c.KvTransferMillisecondsPerToken);
            w.WriteNumber("tokenize_ms_per_token", c.TokenizeMillisecondsPerToken);
            w.WriteBoolean("apc_aware", c.ApcAware);
            w.WriteBoolean("tokenizer_reuse", c.TokenizerReuse);
            w.WriteNumber("prefill_nic_links", c.PrefillNicLinks);
            w.WriteNumber("decode_nic_links", c.DecodeNicLinks);
            w.WriteNumber("proxy_workers", c.ProxyWorkers);
            w.WriteString("worker_state", c.WorkerState == ProxyWorkerState.Shared ? "shared" : "independent");
            w.WriteEndObject();
            if (compare)
            {
                w.WriteStartArray("policies");
                foreach (var m in runs)
                {
                    w.WriteStartObject();
                    WriteMetrics(w, m);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }
            else
            {
                WriteMetrics(w, runs[0]);
            }

            w.WriteEndObject();
        });
    }

    /// <summary>One run's figures (also `moeplan bench`'s, so both documents have the same shape).</summary>
    internal static void WriteMetrics(Utf8JsonWriter w, ServingMetrics m)
    {
        w.WriteString("policy", m.Policy);
        w.WriteStartObject("requests");
        w.WriteNumber("arrived", m.Arrived);
        w.WriteNumber("completed", m.Completed);
        w.WriteNumber("rejected", m.Rejected);
        w.WriteEndObject();
        w.WriteNumber("duration_s", m.DurationSeconds);
        w.WriteNumber("events", m.Events);
        Latency(w, "ttft_ms", m.TtftMilliseconds);
        Latency(w, "tpot_ms", m.TpotMilliseconds);
        Latency(w, "e2e_ms", m.E2eMilliseconds);
        w.WriteStartObject("throughput");
        w.WriteNumber("requests_per_s", m.RequestsPerSecond);
        w.WriteNumber("input_tokens_per_s", m.InputTokensPerSecond);
        w.WriteNumber("output_tokens_per_s", m.OutputTokensPerSecond);
        w.WriteNumberOrNull("output_tokens_per_s_while_arriving", m.OutputTokensPerSecondWhileArriving);
        w.WriteEndObject();
        w.WriteNumber("goodput_requests_per_s", m.GoodputRequestsPerSecond);
        w.WriteNumber("apc_hit_rate", m.ApcHitRate);
        w.WriteStartObject("stages_ms");
        foreach (var stage in RequestStages.Timed)
        {
            w.WriteNumberOrNull(RequestStages.Name(stage), m.StageMeanMilliseconds[(int)stage]);
        }

        w.WriteEndObject();
        w.WriteStartObject("utilization");
        w.WriteNumberArray("prefill", m.PrefillUtilization);
        w.WriteNumberArray("decode", m.DecodeUtilization);
        w.WriteEndObject();
        if (m.Placement is { } placement)
        {
            WritePlacement(w, placement);
        }
    }

    private static string PoolName(PoolRole pool) => pool switch
    {
        PoolRole.Prefill => "prefill",
        PoolRole.Serve => "serve",
        _ => "decode",
    };

    /// <summary>Loads over time and rebalancing (docs/placement.md#rebalancing-during-serving).</summary>
    private static void WritePlacement(Utf8JsonWriter w, PlacementDriftResult p)
    {
        w.WriteStartObject("placement");
        if (p.LoadsOverTime is { } windows)
        {
            w.WriteString("loads_over_time", windows);
        }
        else
        {
            w.WriteNull("loads_over_time");
        }

        w.WriteString("rebalance", p.Rebalance);
        w.WriteNumber("rebalances", p.Rebalances);
        w.WriteNumber("weights_moved_bytes", p.WeightsMovedBytes);
        w.WriteNumber("stall_ms", p.StallMilliseconds);
        w.WriteStartArray("events");
        foreach (var e in p.Events)
        {
            w.WriteStartObject();
            w.WriteNumber("time_ms", e.Milliseconds);
            w.WriteString("pool", PoolName(e.Pool));
            w.WriteNumber("expert_copies", e.Movement.Copies);
            w.WriteNumber("scale_up_copies", e.Movement.ScaleUpCopies);
            w.WriteNumber("scale_out_copies", e.Movement.ScaleOutCopies);
            w.WriteNumber("weights_moved_bytes_per_instance", e.Movement.Bytes);
            w.WriteNumber("stall_ms", e.Movement.Milliseconds);
            w.WriteNumber("imbalance_before", e.ImbalanceBefore);
            w.WriteNumber("imbalance_after", e.ImbalanceAfter);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("imbalance_over_time");
        foreach (var c in p.Imbalance)
        {
            w.WriteStartObject();
            w.WriteNumber("time_ms", c.Milliseconds);
            w.WriteString("pool", PoolName(c.Pool));
            w.WriteNumber("imbalance", c.Imbalance);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("tpot_over_time");
        foreach (var b in p.Tpot)
        {
            w.WriteStartObject();
            w.WriteNumber("start_ms", b.StartMilliseconds);
            w.WriteNumber("end_ms", b.EndMilliseconds);
            w.WriteNumber("requests", b.Requests);
            w.WriteNumber("mean_tpot_ms", b.MeanTpotMilliseconds);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Latency(Utf8JsonWriter w, string name, LatencySummary s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", s.Count);
        w.WriteNumberOrNull("p50", s.P50);
        w.WriteNumberOrNull("p90", s.P90);
        w.WriteNumberOrNull("p99", s.P99);
        w.WriteNumberOrNull("mean", s.Mean);
        w.WriteEndObject();
    }
}

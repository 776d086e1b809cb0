using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using MoePlan.Core.Cost;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Inventory;
using MoePlan.Core.Placement;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace MoePlan.Core.Emit;

/// <summary>The bundle's folders. An engine folder is written for the plan's engine; kubernetes and nginx always.</summary>
public static class BundleTargets
{
    public const string Vllm = "vllm";
    public const string Sglang = "sglang";
    public const string OmniInfer = "omni-infer";
    public const string Kubernetes = "kubernetes";
    public const string Nginx = "nginx";

    /// <summary>moeplan's own live proxy (<c>moeplan proxy</c>): an alternative to nginx, written only when asked for.</summary>
    public const string MoeplanProxy = "moeplan-proxy";

    public static ImmutableArray<string> All { get; } = [Vllm, Sglang, OmniInfer, Kubernetes, Nginx, MoeplanProxy];

    public static string ForEngine(EngineKind engine) => engine switch
    {
        EngineKind.Vllm => Vllm,
        EngineKind.Sglang => Sglang,
        _ => OmniInfer,
    };

    /// <summary>What <c>moeplan compile</c> writes without <c>--target</c>.</summary>
    public static ImmutableArray<string> Defaults(DeploymentPlan plan) => WithFrontDoor(plan, [ForEngine(plan.Engine.Value), Kubernetes, Nginx]);

    /// <summary>Targets that pair prefill and decode and have no aggregated form: Omni-Infer's playbook (groups P, D, C) and
    /// <c>moeplan proxy</c> (its upstreams are prefill and decode instances).</summary>
    public static ImmutableArray<string> DisaggregatedOnly { get; } = [OmniInfer, MoeplanProxy];

    /// <summary>
    /// The targets with what pairs prefill and decode for them: vLLM has no P/D router of its own, so a bundle with vLLM
    /// launches (the vllm target, or Kubernetes pods of a vLLM or Omni-Infer plan, which run <c>vllm serve</c>) carries
    /// <c>moeplan proxy</c>'s files. SGLang's router is in its own folders; Omni Proxy in nginx/.
    /// </summary>
    public static ImmutableArray<string> WithFrontDoor(DeploymentPlan plan, IEnumerable<string> targets)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var list = targets.Distinct(StringComparer.Ordinal).ToList();
        if (plan.IsAggregated)
        {
            // Nothing to pair: vLLM's serve instances are balanced by stock nginx (SGLang's router is in its own folder).
            if (plan.Engine.Value == EngineKind.Vllm && list.Contains(Vllm) && !list.Contains(Nginx))
            {
                list.Add(Nginx);
            }

            return [.. list];
        }

        var vllmPods = list.Contains(Kubernetes) && plan.Engine.Value != EngineKind.Sglang;
        if ((list.Contains(Vllm) || vllmPods) && !list.Contains(MoeplanProxy))
        {
            list.Add(MoeplanProxy);
        }

        return [.. list];
    }
}

/// <summary>A rendered bundle (relative path to text, sorted; binary files apart), or the diagnostics that say why not.</summary>
public sealed record BundleResult(ImmutableSortedDictionary<string, string> Files, ImmutableArray<Diagnostic> Diagnostics)
{
    /// <summary>Files that are not text (Omni Placement's .npy patterns).</summary>
    public ImmutableSortedDictionary<string, byte[]> BinaryFiles { get; init; } = ImmutableSortedDictionary<string, byte[]>.Empty;

    public bool HasErrors => Diagnostics.Any(d => d.IsError);

    public int Count => Files.Count + BinaryFiles.Count;
}

/// <summary>
/// Renders a verified plan into a deployment bundle. Every text file comes from a Scriban template
/// <c>&lt;target&gt;/&lt;name&gt;.sbn</c> loaded through the caller's <see cref="ITemplateLoader"/> (Core does no I/O);
/// plan.json and the expert-placement files come from <see cref="PlanJsonWriter"/>, <see cref="ExpertMapFormats"/> and
/// <see cref="OmniPlacementPattern"/> (binary).
/// Deterministic: same plan, templates and loads, same bytes.
/// </summary>
public static class BundleEmitter
{
    /// <summary>Expert-map formats: SGLang's <c>--init-expert-location</c>, vllm-ascend's <c>expert_map_path</c>, Omni
    /// Placement's .npy pattern.</summary>
    public const string SglangFormat = "sglang";

    public const string VllmAscendFormat = "vllm-ascend";

    public const string OmniPlacementFormat = "omni-placement";

    /// <summary>
    /// The plan's rebalancing for one pool in forward passes: the interval (or a threshold plan's check period) over the
    /// cost model's step time of that pool (decode, prefill, or the aggregated pool's balanced mixed step), rounded up.
    /// Warns (once per bundle) when the engines cannot do what the plan says.
    /// </summary>
    private static BundleRebalance EngineRebalance(DeploymentPlan plan, RebalancePlan rebalance, BundlePool pool, CostReport cost,
        IReadOnlyList<string> targets, List<Diagnostic> diagnostics)
    {
        var stepMilliseconds = pool.IsPrefill ? cost.Prefill.Step.StepMilliseconds : cost.Decode.Step.StepMilliseconds;
        var intervalMilliseconds = rebalance.Trigger == RebalanceTrigger.Periodic ? rebalance.IntervalMilliseconds!.Value.Value : RebalancePlan.ThresholdCheckMilliseconds;
        var iterations = (long)Math.Max(1, Math.Ceiling(intervalMilliseconds / stepMilliseconds));
        string? threshold = rebalance.Trigger == RebalanceTrigger.Threshold
            ? (1 / rebalance.ImbalanceThreshold!.Value.Value).ToString("0.000", CultureInfo.InvariantCulture)
            : null;
        var algorithm = rebalance.Algorithm?.Value ?? plan.Placement.Algorithm.Value;
        var sglangAlgorithm = algorithm == "eplb-global" ? "deepseek" : "deepseek_hierarchical";
        if (algorithm is not ("eplb" or "eplb-global" or "eplb-hierarchical") && diagnostics.All(d => d.Descriptor != DiagnosticCodes.RebalanceAlgorithmNotInEngine))
        {
            diagnostics.Add(DiagnosticCodes.RebalanceAlgorithmNotInEngine.CreateWithHint(rebalance.Span,
                "say `with eplb` to run in the engine what the simulation runs", algorithm, "DeepSeek's EPLB"));
        }

        if (threshold is not null && targets.Contains(BundleTargets.Vllm) && diagnostics.All(d => d.Descriptor != DiagnosticCodes.RebalanceThresholdNotInEngine))
        {
            diagnostics.Add(DiagnosticCodes.RebalanceThresholdNotInEngine.CreateWithHint(rebalance.Span,
                "use `rebalance every DURATION` for vLLM bundles", "vLLM"));
        }

        return new BundleRebalance(iterations, threshold, sglangAlgorithm);
    }

    /// <param name="cost">The cost model's report for report.md (null: report.md says it was not computed).</param>
    /// <param name="inventory">Real hosts and addresses (verified against the plan by <see cref="InventoryVerifier"/>), or null for synthetic ones.</param>
    /// <param name="modelVolume">Where Kubernetes pods find the checkpoint; null: a claim named after the deployment.</param>
    public static BundleResult Emit(DeploymentPlan plan, string planPath, IReadOnlyList<string>? targets, ITemplateLoader templates, ISourceResolver sources, CostReport? cost = null,
        ClusterInventory? inventory = null, BundleModelVolume? modelVolume = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(templates);
        ArgumentNullException.ThrowIfNull(sources);
        var selected = (targets is { Count: > 0 } ? BundleTargets.WithFrontDoor(plan, targets) : BundleTargets.Defaults(plan)).ToList();
        var unknown = selected.Where(t => !BundleTargets.All.Contains(t, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown bundle target(s): {string.Join(", ", unknown)}; targets: {string.Join(", ", BundleTargets.All)}", nameof(targets));
        }

        var diagnostics = new List<Diagnostic>();
        if (plan.Serving is { } serve)
        {
            foreach (var target in selected.Where(BundleTargets.DisaggregatedOnly.Contains))
            {
                diagnostics.Add(DiagnosticCodes.TargetNeedsDisaggregated.CreateWithHint(serve.Span,
                    $"leave out `--target {target}`, or serve with `prefill {{ }}` and `decode {{ }}`", target,
                    target == BundleTargets.OmniInfer ? "Omni-Infer's playbook deploys prefill and decode groups (P, D) behind its proxy (C)" : "`moeplan proxy` pairs a prefill and a decode instance per request"));
            }

            if (diagnostics.Count > 0)
            {
                return new BundleResult(ImmutableSortedDictionary<string, string>.Empty, [.. diagnostics]);
            }
        }

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["plan.json"] = PlanJsonWriter.Write(plan),
        };

        var binary = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var maps = ExpertMaps(plan, planPath, selected, sources, files, binary, diagnostics);
        if (diagnostics.Any(d => d.IsError))
        {
            return new BundleResult(ImmutableSortedDictionary<string, string>.Empty, [.. diagnostics]);
        }

        var model = BundleModelBuilder.Build(plan, selected, maps, inventory);
        if (plan.Placement.Rebalance is { Trigger: not RebalanceTrigger.Off } rebalance
            && selected.Any(t => t is BundleTargets.Sglang or BundleTargets.Vllm))
        {
            if (cost is null)
            {
                diagnostics.Add(DiagnosticCodes.RebalanceNeedsStepTime.CreateWithHint(rebalance.Span,
                    "make the plan cost cleanly (`moeplan cost`), or `rebalance off`"));
                return new BundleResult(ImmutableSortedDictionary<string, string>.Empty, [.. diagnostics]);
            }

            model = model with { Pools = [.. model.Pools.Select(p => p with { Rebalance = EngineRebalance(plan, rebalance, p, cost, selected, diagnostics) })] };
        }

        model = model with
        {
            ModelVolume = modelVolume ?? model.ModelVolume,
            MapChunks = selected.Contains(BundleTargets.Kubernetes) ? MapChunks(plan, model, files) : [],
        };
        if (cost is not null)
        {
            files["cost.json"] = CostReportWriter.Json(plan, cost);
        }

        var renderer = new Renderer(plan, model, files, templates, diagnostics, cost);
        renderer.Render("README.md", "bundle/README.md.sbn");
        renderer.Render("report.md", "bundle/report.md.sbn");
        foreach (var target in selected.Order(StringComparer.Ordinal))
        {
            switch (target)
            {
                case BundleTargets.Vllm:
                case BundleTargets.Sglang:
                    foreach (var node in model.NodeList)
                    {
                        renderer.Render($"{target}/{node.Name}.sh", $"{target}/node.sh.sbn", ("node", node));
                    }

                    if (target == BundleTargets.Sglang)
                    {
                        renderer.Render("sglang/router.sh", "sglang/router.sh.sbn");
                    }

                    break;
                case BundleTargets.OmniInfer:
                    renderer.Render("omni-infer/README.md", "omni-infer/README.md.sbn");
                    renderer.Render("omni-infer/inventory.yaml", "omni-infer/inventory.yaml.sbn");
                    renderer.Render("omni-infer/decode-additional-config.json", "omni-infer/additional-config.json.sbn", ("pool", model.Decode));
                    foreach (var pool in model.Pools)
                    {
                        renderer.Render(pool.OmniInfer.ModelConfigFile, "omni-infer/model.json.sbn", ("pool", pool));
                        if (pool.OmniPlacementPatternFile is not null)
                        {
                            renderer.Render(pool.OmniInfer.PlacementConfigFile, "omni-infer/omni-placement.yaml.sbn", ("pool", pool));
                        }
                    }

                    break;
                case BundleTargets.Nginx:
                    renderer.Render("nginx/nginx.conf", "nginx/nginx.conf.sbn");
                    renderer.Render("nginx/upstreams.conf", "nginx/upstreams.conf.sbn");
                    // Omni Proxy is Omni-Infer's (its workers tokenize through vllm-ascend's plugins): the front door of Omni-Infer
                    // plans only, so that every bundle has one.
                    if (plan.Engine.Value == EngineKind.OmniInfer)
                    {
                        renderer.Render("nginx/omni-proxy.conf", "nginx/omni-proxy.conf.sbn");
                    }

                    break;
                case BundleTargets.MoeplanProxy:
                    // The proxy reads the plan itself (its policy, mode and caps): a copy of the source beside the upstreams.
                    if (sources.TryRead(planPath, out var planText, out _))
                    {
                        files["moeplan-proxy/plan.moe"] = planText.Replace("\r\n", "\n", StringComparison.Ordinal);
                    }

                    renderer.Render("moeplan-proxy/upstreams.txt", "moeplan-proxy/upstreams.txt.sbn");
                    renderer.Render("moeplan-proxy/upstreams.kubernetes.txt", "moeplan-proxy/upstreams.kubernetes.txt.sbn");
                    renderer.Render("moeplan-proxy/launch.sh", "moeplan-proxy/launch.sh.sbn");
                    renderer.Render("moeplan-proxy/configmap.yaml", "moeplan-proxy/configmap.yaml.sbn");
                    renderer.Render("moeplan-proxy/deployment.yaml", "moeplan-proxy/deployment.yaml.sbn");
                    renderer.Render("moeplan-proxy/service.yaml", "moeplan-proxy/service.yaml.sbn");
                    break;
                case BundleTargets.Kubernetes:
                    renderer.Render("kubernetes/configmap.yaml", "kubernetes/configmap.yaml.sbn");
                    foreach (var chunk in model.MapChunks)
                    {
                        renderer.Render($"kubernetes/{chunk.ConfigMap[(model.ResourceName.Length + 1)..]}.yaml", "kubernetes/map-configmap.yaml.sbn", ("chunk", chunk));
                    }

                    foreach (var pool in model.Pools)
                    {
                        renderer.Render($"kubernetes/{pool.Role}-leaderworkerset.yaml", "kubernetes/leaderworkerset.yaml.sbn", ("pool", pool));
                        renderer.Render($"kubernetes/{pool.Role}-service.yaml", "kubernetes/service.yaml.sbn", ("pool", pool));
                    }

                    if (plan.Engine.Value == EngineKind.Sglang)
                    {
                        renderer.Render("kubernetes/router-deployment.yaml", "kubernetes/router-deployment.yaml.sbn");
                        renderer.Render("kubernetes/router-service.yaml", "kubernetes/router-service.yaml.sbn");
                    }

                    break;
            }
        }

        return diagnostics.Any(d => d.IsError)
            ? new BundleResult(ImmutableSortedDictionary<string, string>.Empty, [.. diagnostics])
            : new BundleResult(files.ToImmutableSortedDictionary(StringComparer.Ordinal), [.. diagnostics])
            {
                BinaryFiles = binary.ToImmutableSortedDictionary(StringComparer.Ordinal),
            };
    }

    /// <summary>Above this many bytes of data, a ConfigMap would not fit <c>kubectl apply</c>'s last-applied annotation
    /// (262,144 bytes for all annotations) once its data is JSON-escaped: at most twice as long, as every escaped
    /// character (newline, quote) becomes two.</summary>
    public const int MaxConfigMapDataBytes = 120 * 1024;

    /// <summary>
    /// The expert map each pool's pods read (SGLang's for SGLang pods, vllm-ascend's for vLLM pods on Ascend and Omni-Infer
    /// pods), cut at line ends into pieces of at most <see cref="MaxConfigMapDataBytes"/>, one ConfigMap each
    /// (<c>&lt;name&gt;-&lt;pool&gt;-map-N</c>). A line longer than that is a piece alone (an expert map's lines are short).
    /// </summary>
    private static ImmutableArray<BundleMapChunk> MapChunks(DeploymentPlan plan, BundleModel model, SortedDictionary<string, string> files)
    {
        var format = plan.Engine.Value == EngineKind.Sglang ? SglangFormat : VllmAscendFormat;
        var chunks = ImmutableArray.CreateBuilder<BundleMapChunk>();
        foreach (var pool in model.Pools)
        {
            if (pool.ExpertMapFiles.GetValueOrDefault(format) is not { } path || !files.TryGetValue(path, out var text))
            {
                continue;
            }

            var name = path[(path.LastIndexOf('/') + 1)..];
            var piece = new StringBuilder();
            var bytes = 0;
            void Flush()
            {
                var index = chunks.Count(c => c.File == name);
                var suffix = index.ToString("000", CultureInfo.InvariantCulture);
                chunks.Add(new BundleMapChunk(pool.Role, name, $"{model.ResourceName}-{pool.Role}-map-{suffix}", $"{name}.part-{suffix}", piece.ToString()));
                piece.Clear();
                bytes = 0;
            }

            foreach (var line in text.Split('\n').SkipLast(text.EndsWith('\n') ? 1 : 0))
            {
                var size = Encoding.UTF8.GetByteCount(line) + 1;
                if (bytes > 0 && bytes + size > MaxConfigMapDataBytes)
                {
                    Flush();
                }

                piece.Append(line).Append('\n');
                bytes += size;
            }

            if (bytes > 0)
            {
                Flush();
            }
        }

        return chunks.ToImmutable();
    }

    /// <summary>The expert-map formats the bundle's launches read: SGLang's; vllm-ascend's (vLLM on Ascend, and the Kubernetes
    /// pods of an Omni-Infer plan, which start through <c>vllm serve</c>); Omni Placement's pattern (the Omni-Infer target,
    /// whose playbook does not read vllm-ascend's map). vLLM on GPUs has no static map: it balances at run time with EPLB.</summary>
    public static ImmutableArray<string> MapFormats(DeploymentPlan plan, IReadOnlyCollection<string> targets)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(targets);
        var podEngine = targets.Contains(BundleTargets.Kubernetes) ? BundleTargets.ForEngine(plan.Engine.Value) : null;
        var ascend = plan.Hardware.Value.Vendor.Equals("Huawei", StringComparison.OrdinalIgnoreCase);
        var formats = new SortedSet<string>(StringComparer.Ordinal);
        if (targets.Contains(BundleTargets.Sglang) || podEngine == BundleTargets.Sglang)
        {
            formats.Add(SglangFormat);
        }

        if (podEngine == BundleTargets.OmniInfer || (ascend && (targets.Contains(BundleTargets.Vllm) || podEngine == BundleTargets.Vllm)))
        {
            formats.Add(VllmAscendFormat);
        }

        if (targets.Contains(BundleTargets.OmniInfer))
        {
            formats.Add(OmniPlacementFormat);
        }

        return [.. formats];
    }

    private static Dictionary<PoolRole, ImmutableSortedDictionary<string, string>> ExpertMaps(
        DeploymentPlan plan, string planPath, IReadOnlyCollection<string> targets, ISourceResolver sources, SortedDictionary<string, string> files,
        SortedDictionary<string, byte[]> binary, List<Diagnostic> diagnostics)
    {
        var maps = new Dictionary<PoolRole, ImmutableSortedDictionary<string, string>>();
        var formats = MapFormats(plan, targets);
        if (formats.IsEmpty)
        {
            return maps;
        }

        foreach (var pool in plan.Pools)
        {
            var role = pool.Name;
            var placed = PlanPlacement.Place(plan, pool.Role, sources);
            diagnostics.AddRange(placed.Diagnostics.Where(d => d.IsError));
            if (placed.Placement is not { } placement)
            {
                continue;
            }

            var paths = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            foreach (var format in formats)
            {
                if (format == SglangFormat)
                {
                    var sglang = ExpertMapFormats.SglangExpertLocation(placement, plan.Model.Entry.Architecture.Layers);
                    diagnostics.AddRange(sglang.Diagnostics);
                    if (sglang.Text is { } text)
                    {
                        paths[format] = $"placement/{role}.sglang-expert-location.json";
                        files[paths[format]] = text;
                    }
                }
                else if (format == OmniPlacementFormat)
                {
                    paths[format] = OmniInferLayout.For(role).PatternFile;
                    binary[paths[format]] = OmniPlacementPattern.Npy(placement);
                }
                else
                {
                    paths[format] = $"placement/{role}.vllm-ascend-expert-map.json";
                    files[paths[format]] = ExpertMapFormats.VllmAscendExpertMap(placement);
                }
            }

            maps[pool.Role] = paths.ToImmutable();
        }

        return maps;
    }

    /// <summary>Renders templates with the plan, the bundle model and the files rendered so far; collects template diagnostics.</summary>
    private sealed class Renderer(DeploymentPlan plan, BundleModel model, SortedDictionary<string, string> files, ITemplateLoader loader, List<Diagnostic> diagnostics, CostReport? cost)
    {
        private readonly Dictionary<string, Template?> _parsed = new(StringComparer.Ordinal);

        public void Render(string outputPath, string templateName, params (string Name, object Value)[] variables)
        {
            var context = NewContext();
            var template = Load(context, templateName);
            if (template is null)
            {
                return;
            }

            var globals = new ScriptObject();
            globals.SetValue("plan", plan, true);
            globals.SetValue("bundle", model, true);
            globals.SetValue("cost", cost, true);
            globals.SetValue("output_path", outputPath, true);
            // Files written before this one (plan.json, the placement files): the ConfigMap embeds them.
            globals.SetValue("files", files.Where(f => f.Key != outputPath).Select(f => new BundleFile(f.Key, f.Value)).ToList(), true);
            foreach (var (name, value) in variables)
            {
                globals.SetValue(name, value, true);
            }

            context.PushGlobal(globals);
            try
            {
                var text = template.Render(context);
                files[outputPath] = text.Replace("\r\n", "\n", StringComparison.Ordinal);
            }
            catch (ScriptRuntimeException e)
            {
                diagnostics.AddRange(RuntimeDiagnostics(e));
            }
        }

        private TemplateContext NewContext()
        {
            var context = new TemplateContext
            {
                TemplateLoader = loader,
                StrictVariables = true,
                LoopLimit = 10_000_000,
                LimitToString = 0,
                NewLine = "\n",
                // Templates indent multi-line values themselves (YAML block scalars, continued shell lines).
                AutoIndent = false,
                MemberRenamer = StandardMemberRenamer.Default,
            };

            // Same plan, same bytes: templates get no clock (Scriban's date.now), so a use of `date` is an error.
            context.BuiltinObject.Remove("date");

            // One escaping rule per output format (OutputEscaping): `{{ path | escape.yaml }}`.
            var escape = new ScriptObject();
            escape.Import(typeof(OutputEscaping), renamer: StandardMemberRenamer.Default);
            context.BuiltinObject.SetValue("escape", escape, true);
            return context;
        }

        private Template? Load(TemplateContext context, string name)
        {
            if (_parsed.TryGetValue(name, out var cached))
            {
                return cached;
            }

            Template? template = null;
            try
            {
                var path = loader.GetPath(context, default, name);
                if (path is null)
                {
                    diagnostics.Add(DiagnosticCodes.TemplateNotFound.Create(null, name, "the template loader does not know it"));
                }
                else
                {
                    var text = loader.Load(context, default, path) ?? "";
                    var parsed = Template.Parse(text, path);
                    if (parsed.HasErrors)
                    {
                        diagnostics.AddRange(parsed.Messages.Where(m => m.Type == ParserMessageType.Error)
                            .Select(m => DiagnosticCodes.TemplateSyntax.Create(Span(m.Span), m.Message)));
                    }
                    else
                    {
                        template = parsed;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ScriptRuntimeException)
            {
                diagnostics.Add(DiagnosticCodes.TemplateNotFound.Create(null, name, e is ScriptRuntimeException s ? s.OriginalMessage : e.Message));
            }

            _parsed[name] = template;
            return template;
        }

        private static IEnumerable<Diagnostic> RuntimeDiagnostics(ScriptRuntimeException e)
        {
            // An included template that does not parse: report its own errors, at its own lines.
            if (e is ScriptParserRuntimeException parser && parser.ParserMessages.Any(m => m.Type == ParserMessageType.Error))
            {
                return parser.ParserMessages.Where(m => m.Type == ParserMessageType.Error)
                    .Select(m => DiagnosticCodes.TemplateSyntax.Create(Span(m.Span), m.Message))
                    .ToList();
            }

            return [DiagnosticCodes.TemplateRender.Create(Span(e.Span), e.OriginalMessage)];
        }

        private static Text.SourceSpan? Span(Scriban.Parsing.SourceSpan span) =>
            string.IsNullOrEmpty(span.FileName)
                ? null
                : new Text.SourceSpan(span.FileName, span.Start.Offset, Math.Max(0, span.End.Offset - span.Start.Offset + 1), span.Start.Line + 1, span.Start.Column + 1);
    }
}

/// <summary>A file of the bundle as templates see it.</summary>
public sealed record BundleFile(string Path, string Text)
{
    public string Name => Path.Contains('/', StringComparison.Ordinal) ? Path[(Path.LastIndexOf('/') + 1)..] : Path;
}

using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Calibration;
using MoePlan.Core.Catalog;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>A parsed file with the path users see.</summary>
public sealed record SourceFileSyntax(string Path, FileSyntax Syntax);

/// <summary>The bound plan (null when binding found errors) and everything binding reported.</summary>
public sealed record BindingResult(DeploymentPlan? Plan, ImmutableArray<Diagnostic> Diagnostics);

/// <summary>
/// Syntax to plan: evaluates <c>let</c> constants (imported files first), resolves catalog names, reads
/// each setting against what it expects, fills defaults, and normalises units.
/// </summary>
public sealed partial class DeploymentBinder
{
    public static readonly ImmutableArray<string> Engines = ["vllm", "sglang", "omni-infer"];
    public static readonly ImmutableArray<string> Formats = ["bf16", "fp8", "int8", "nvfp4", "mxfp4"];
    public static ImmutableArray<string> PlacementAlgorithms => Placement.PlacementAlgorithms.Names;

    private readonly List<Diagnostic> _diagnostics = [];
    private readonly LetScope _scope = new();
    private readonly ISourceResolver _resolver;
    private string _file = "";
    private ExpressionEvaluator _evaluator = null!;

    private DeploymentBinder(ISourceResolver resolver) => this._resolver = resolver;

    /// <param name="imports">Imported files in dependency order (an import before its importer).</param>
    public static BindingResult Bind(SourceFileSyntax main, IReadOnlyList<SourceFileSyntax> imports, ISourceResolver resolver)
    {
        var binder = new DeploymentBinder(resolver);
        foreach (var imported in imports)
        {
            binder.BindLets(imported);
        }

        binder.BindLets(main);
        var deployments = main.Syntax.Statements.OfType<DeploymentSyntax>().ToList();
        if (deployments.Count != 1)
        {
            var span = deployments.Count > 1 ? deployments[1].Range.In(main.Path) : new SourceSpan(main.Path, 0, 0, 1, 1);
            binder._diagnostics.Add(DiagnosticCodes.DeploymentCount.Create(span, deployments.Count));
            return new BindingResult(null, [.. binder._diagnostics]);
        }

        var plan = binder.BindDeployment(deployments[0]);
        var errors = binder._diagnostics.Any(d => d.IsError);
        return new BindingResult(errors ? null : plan, [.. binder._diagnostics]);
    }

    private void Use(string path)
    {
        _file = path;
        _evaluator = new ExpressionEvaluator(path, _scope, _diagnostics);
    }

    private void BindLets(SourceFileSyntax source)
    {
        Use(source.Path);
        foreach (var let in source.Syntax.Statements.OfType<LetSyntax>())
        {
            if (_scope.TryGetDefinition(let.Name.Name, out var previous))
            {
                _diagnostics.Add(DiagnosticCodes.DuplicateLet.Create(let.Name.Range.In(_file), let.Name.Name, previous.ToString()));
                continue;
            }

            if (_evaluator.Evaluate(let.Value) is { } value)
            {
                _scope.Define(let.Name.Name, value, let.Name.Range.In(_file));
            }
        }
    }

    private ArgumentReader Read(SettingSyntax setting, string usage, bool allowBlock = false)
    {
        if (!allowBlock && setting.Block is { } block)
        {
            _diagnostics.Add(DiagnosticCodes.UnexpectedBlock.Create(block.Range.In(_file), setting.Name.Name, "does not take a block"));
        }

        return new ArgumentReader(setting, usage, _file, _evaluator, _diagnostics);
    }

    private SettingsBlock? ChildBlock(SettingSyntax setting, string kind, string usage)
    {
        if (setting.Block is null)
        {
            _diagnostics.Add(DiagnosticCodes.UnexpectedBlock.Create(setting.Range.In(_file), setting.Name.Name, $"needs a block: {usage}"));
            return null;
        }

        return new SettingsBlock(kind, setting.Block, _file, _diagnostics);
    }

    private void Missing(SourceSpan where, string owner, string setting) =>
        _diagnostics.Add(DiagnosticCodes.MissingSetting.Create(where, owner, setting));

    private DeploymentPlan? BindDeployment(DeploymentSyntax deployment)
    {
        var name = new Sourced<string>(deployment.Name.Value, deployment.Name.Range.In(_file));
        if (NameRules.DeploymentNameProblem(name.Value) is { } problem)
        {
            var suggested = NameRules.SuggestedName(name.Value);
            _diagnostics.Add(DiagnosticCodes.InvalidDeploymentName.CreateWithHint(name.Span,
                $"call it \"{suggested}\"", TextExcerpt.Of(name.Value), problem)
                .WithFix($"Call it \"{suggested}\"", new TextEdit(name.Span, $"\"{suggested}\"")));
        }

        var block = new SettingsBlock(LanguageSchema.Deployment, deployment.Body, _file, _diagnostics);
        var owner = $"deployment \"{deployment.Name.Value}\"";
        var headSpan = deployment.Name.Range.In(_file);

        var engine = Required<Sourced<EngineKind>?>(block, "engine", owner, headSpan, s =>
        {
            var r = Read(s, "one of `vllm`, `sglang`, `omni-infer`, e.g. `engine sglang`");
            var word = r.Word("engine", Engines);
            r.End();
            return word is { } w ? new Sourced<EngineKind>(ParseEngine(w.Value), w.Span) : null;
        });
        var model = Required(block, "model", owner, headSpan, BindModel);
        var hardware = Required<Sourced<HardwareEntry>?>(block, "hardware", owner, headSpan, s =>
        {
            var r = Read(s, "a catalog name, e.g. `hardware h800` (see `moeplan hardware`)");
            var word = r.AnyWord();
            r.End();
            if (word is not { } w)
            {
                return null;
            }

            var entry = EmbeddedCatalog.Instance.FindHardware(w.Value);
            if (entry is null)
            {
                var names = EmbeddedCatalog.Instance.Hardware.Select(h => h.Name).ToList();
                _diagnostics.Add(DiagnosticCodes.UnknownHardware.Create(w.Span, w.Value, Suggestions.DidYouMean(w.Value, names))
                    .WithReplacement(w.Span, Suggestions.Closest(w.Value, names)));
                return null;
            }

            return new Sourced<HardwareEntry>(entry, w.Span);
        });
        var precision = model is null ? null : BindPrecision(block["precision"], model, headSpan);
        var cluster = hardware is { } hw ? RequiredBlock(block, "cluster", owner, headSpan, c => BindCluster(c, hw.Value)) : null;
        var price = block["price"] is { } priceSetting ? BindPrice(priceSetting) : null;
        var (prefill, decode) = BindPools(block, owner, headSpan);
        var placement = OptionalBlock(block, "placement", headSpan, BindPlacement);
        var proxy = OptionalBlock(block, "proxy", headSpan, p => BindProxy(p, engine, aggregated: block["serve"] is not null));
        var slo = OptionalBlock(block, "slo", headSpan, BindSlo);
        var workload = RequiredBlock(block, "workload", owner, headSpan, BindWorkload);

        if (engine is not { } e || model is null || precision is null || hardware is not { } h || cluster is null ||
            prefill is null || decode is null || placement is null || proxy is null || slo is null || workload is null)
        {
            return null;
        }

        var calibration = block["calibration"] is { } calibrationSetting ? BindCalibration(calibrationSetting, h) : null;
        if (block["calibration"] is not null && calibration is null)
        {
            return null;
        }

        var sweep = block["sweep"] is { } sweepSetting ? BindSweep(sweepSetting, cluster, decode) : null;
        return new DeploymentPlan(name, e, model, precision, h, cluster, price, prefill, decode, placement, proxy, slo, workload) { Sweep = sweep, Calibration = calibration };
    }

    /// <summary>
    /// The pools: one <c>serve</c> pool (aggregated; returned as both prefill and decode, see <see cref="DeploymentPlan.Serving"/>),
    /// or a <c>prefill</c> and a <c>decode</c> pool. Both forms, or neither, is an error at the deployment.
    /// </summary>
    private (PoolPlan? Prefill, PoolPlan? Decode) BindPools(SettingsBlock block, string owner, SourceSpan headSpan)
    {
        if (block["serve"] is { } serveSetting)
        {
            var written = new[] { "prefill", "decode" }.Where(n => block[n] is not null).ToList();
            if (written.Count > 0)
            {
                // The fix keeps the disaggregated pools: they are complete on their own, the serve block was added to them.
                _diagnostics.Add(DiagnosticCodes.AggregatedAndDisaggregated.CreateWithHint(serveSetting.Name.Range.In(_file),
                        "keep `serve { }` for aggregated serving, or `prefill { }` and `decode { }` for disaggregated serving, not both",
                        $"`{string.Join("` and `", written)}` written too")
                    .WithFix("Remove the `serve` block (keep prefill and decode)", new TextEdit(serveSetting.Range.In(_file), "")));
                return (null, null);
            }

            var serve = RequiredBlock(block, "serve", owner, headSpan, p => BindPool(p, PoolRole.Serve));
            return (serve, serve);
        }

        if (block["prefill"] is null && block["decode"] is null)
        {
            // No fix: the pool's shape (instances, dp/tp/ep, batch) is the user's to choose; `moeplan init` proposes one.
            _diagnostics.Add(DiagnosticCodes.MissingSetting.CreateWithHint(headSpan,
                "add `serve { ... }` for one aggregated pool (prefill and decode in the same instances), or `prefill { ... }` and `decode { ... }` for disaggregated pools (docs/dsl.md)",
                owner, "serve` or `prefill` and `decode"));
            return (null, null);
        }

        var prefill = RequiredBlock(block, "prefill", owner, headSpan, p => BindPool(p, PoolRole.Prefill));
        var decode = RequiredBlock(block, "decode", owner, headSpan, p => BindPool(p, PoolRole.Decode));
        return (prefill, decode);
    }

    private T? Required<T>(SettingsBlock block, string setting, string owner, SourceSpan ownerSpan, Func<SettingSyntax, T?> bind)
    {
        if (block[setting] is { } s)
        {
            return bind(s);
        }

        Missing(ownerSpan, owner, setting);
        return default;
    }

    private T? RequiredBlock<T>(SettingsBlock block, string setting, string owner, SourceSpan ownerSpan, Func<SettingsBlock, T?> bind)
        where T : class
    {
        if (block[setting] is not { } s)
        {
            Missing(ownerSpan, owner, setting);
            return null;
        }

        Read(s, $"`{setting} {{ ... }}`", allowBlock: true).End();
        var child = ChildBlock(s, setting, $"`{setting} {{ ... }}`");
        return child is null ? null : bind(child);
    }

    private T? OptionalBlock<T>(SettingsBlock block, string setting, SourceSpan ownerSpan, Func<SettingsBlock, T?> bind)
        where T : class
    {
        if (block[setting] is not { } s)
        {
            // An omitted optional block takes every default; defaults point at the deployment's name.
            var empty = new BlockSyntax(new Syntax.TextRange(ownerSpan.Start, ownerSpan.Length, ownerSpan.Line, ownerSpan.Column), []);
            return bind(new SettingsBlock(setting, empty, _file, _diagnostics));
        }

        Read(s, $"`{setting} {{ ... }}`", allowBlock: true).End();
        var child = ChildBlock(s, setting, $"`{setting} {{ ... }}`");
        return child is null ? null : bind(child);
    }

    /// <summary><c>calibration "profile.yaml"</c>: read relative to the plan; its family must be the hardware's.</summary>
    private CalibrationUse? BindCalibration(SettingSyntax setting, Sourced<HardwareEntry> hardware)
    {
        var r = Read(setting, "a profile written by `moeplan calibrate`, e.g. `calibration \"profiles/h100.yaml\"`");
        var path = r.String();
        r.End();
        if (path is not { } p || r.Failed)
        {
            return null;
        }

        var resolved = _resolver.Resolve(_file, p.Value);
        if (!_resolver.TryRead(resolved, out var text, out var error))
        {
            _diagnostics.Add(DiagnosticCodes.CalibrationProfileNotFound.Create(p.Span, resolved, error));
            return null;
        }

        var (profile, problems) = CalibrationProfileReader.Parse(resolved, text);
        if (profile is null)
        {
            _diagnostics.Add(DiagnosticCodes.CalibrationProfileInvalid.Create(p.Span, resolved, problems.Count(d => d.IsError)));
            _diagnostics.AddRange(problems);
            return null;
        }

        if (profile.Family != hardware.Value.Family)
        {
            _diagnostics.Add(DiagnosticCodes.CalibrationFamilyMismatch.Create(p.Span, profile.Family, hardware.Value.Name, hardware.Value.Family));
            return null;
        }

        return new CalibrationUse(p, resolved, profile);
    }

    private ModelPlan? BindModel(SettingSyntax setting)
    {
        var r = Read(setting, "a catalog name, e.g. `model deepseek-v3`, or `model from \"config.json\"`");
        if (r.TryWord("from"))
        {
            var path = r.String();
            r.End();
            if (path is not { } p)
            {
                return null;
            }

            var resolved = _resolver.Resolve(_file, p.Value);
            if (!_resolver.TryRead(resolved, out var text, out var error))
            {
                _diagnostics.Add(DiagnosticCodes.ImportNotFound.Create(p.Span, resolved, error));
                return null;
            }

            var config = HuggingFaceConfigReader.Read(text, resolved, p.Span);
            _diagnostics.AddRange(config.Diagnostics);
            if (config.Model is { } model && !NameRules.IsModelName(model.Name))
            {
                _diagnostics.Add(DiagnosticCodes.InvalidModelName.CreateWithHint(p.Span, "rename the file (e.g. `My-Model.config.json`)",
                    TextExcerpt.Of(model.Name), TextExcerpt.Of(p.Value)));
                return null;
            }

            return config.Model is null ? null : new ModelPlan(config.Model, p.Value, setting.Range.In(_file));
        }

        var word = r.AnyWord();
        r.End();
        if (word is not { } w)
        {
            return null;
        }

        var entry = EmbeddedCatalog.Instance.FindModel(w.Value);
        if (entry is null)
        {
            var names = EmbeddedCatalog.Instance.Models.Select(m => m.Name).ToList();
            _diagnostics.Add(DiagnosticCodes.UnknownModel.Create(w.Span, w.Value, Suggestions.DidYouMean(w.Value, names))
                .WithReplacement(w.Span, Suggestions.Closest(w.Value, names)));
            return null;
        }

        return new ModelPlan(entry, null, setting.Range.In(_file));
    }

    private PrecisionPlan? BindPrecision(SettingSyntax? setting, ModelPlan model, SourceSpan defaultSpan)
    {
        var native = ParseFormat(model.Entry.NativeWeightPrecision);
        var weights = new Sourced<NumericFormat>(native, model.Span, IsDefault: true);
        SettingsBlock? overrides = null;
        if (setting is not null)
        {
            var r = Read(setting, "a format (`bf16`, `fp8`, `int8`, `nvfp4`, `mxfp4`) and an optional block of overrides, e.g. `precision fp8 { kv_cache bf16 }`", allowBlock: true);
            if (!r.AtEnd)
            {
                var word = r.Word("precision", Formats);
                if (word is { } w)
                {
                    weights = new Sourced<NumericFormat>(ParseFormat(w.Value), w.Span);
                }
            }

            r.End();
            if (setting.Block is { } block)
            {
                overrides = new SettingsBlock("precision", block, _file, _diagnostics);
            }
        }

        Sourced<NumericFormat> Part(string name, Sourced<NumericFormat> fallback)
        {
            if (overrides?[name] is not { } s)
            {
                return fallback with { IsDefault = true };
            }

            var r = Read(s, $"a format, e.g. `{name} bf16`");
            var word = r.Word("precision", Formats);
            r.End();
            return word is { } w ? new Sourced<NumericFormat>(ParseFormat(w.Value), w.Span) : fallback;
        }

        var attention = Part("attention", weights);
        var experts = Part("experts", weights);
        var dense = Part("dense", weights);
        var bf16 = new Sourced<NumericFormat>(NumericFormat.Bf16, setting?.Range.In(_file) ?? defaultSpan, IsDefault: true);
        var kv = Part("kv_cache", bf16);

        // Dispatch travels at the experts' GEMM input precision (DeepEP: FP8 dispatch); combine returns bf16 outputs.
        // FP4 experts still take FP8 activations off the wire (DeepEP's dispatch formats are FP8 and BF16).
        var dispatch = Part("dispatch", experts.Value == NumericFormat.Bf16 ? bf16
            : experts.Value.IsFourBit() ? experts with { Value = NumericFormat.Fp8, IsDefault = true } : experts);
        var combine = Part("combine", bf16);
        return new PrecisionPlan(weights, attention, experts, dense, kv, dispatch, combine);
    }

    private ClusterPlan? BindCluster(SettingsBlock block, HardwareEntry hardware)
    {
        var nodes = WholeSetting(block, "nodes", 1, "a whole number, e.g. `nodes 4`");
        Sourced<int>? devicesPerNode = WholeSetting(block, "devices_per_node", 1, "a whole number, e.g. `devices_per_node 8`");
        if (devicesPerNode is null && block["devices_per_node"] is null)
        {
            if (hardware.DevicesPerNode is { } catalogDevices)
            {
                devicesPerNode = new Sourced<int>(catalogDevices, block.Span, IsDefault: true);
            }
            else
            {
                // No fix: the figure is the user's (HGX boards carry 4 or 8 GPUs); the hint says where it goes and why it is asked for.
                _diagnostics.Add(DiagnosticCodes.MissingSetting.CreateWithHint(block.Span,
                    $"the catalog has no sourced node size for {hardware.Name}: give it in `cluster`, e.g. `devices_per_node 8` for an 8-GPU board",
                    "cluster", "devices_per_node"));
            }
        }

        if (nodes is null && block["nodes"] is null)
        {
            Missing(block.Span, "cluster", "nodes");
        }

        var supernode = WholeSetting(block, "supernode", 1, "devices in one scale-up domain, e.g. `supernode 384`");
        var scaleUp = QuantitySetting(block, "scale_up_bandwidth", Dimension.Bandwidth, "a bandwidth per direction, e.g. `scale_up_bandwidth 155GB/s`");
        var scaleOut = QuantitySetting(block, "scale_out_bandwidth", Dimension.Bandwidth, "a bandwidth per direction, e.g. `scale_out_bandwidth 400Gbps`");
        if (nodes is not { } n || devicesPerNode is not { } d)
        {
            return null;
        }

        return new ClusterPlan(block.Span, n, d, supernode, scaleUp, scaleOut);
    }

    private Sourced<double>? BindPrice(SettingSyntax setting)
    {
        var r = Read(setting, "a price per device-hour, e.g. `price 2.0usd/device-hour`");
        var price = r.Quantity(Dimension.Price);
        r.End();
        if (price is { } p && p.Value <= 0)
        {
            _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(p.Span, "price", "positive", p.Value.ToString("0.####", CultureInfo.InvariantCulture)));
            return null;
        }

        return price;
    }

    private PoolPlan? BindPool(SettingsBlock block, PoolRole role)
    {
        var owner = role switch { PoolRole.Prefill => "prefill", PoolRole.Decode => "decode", _ => "serve" };
        var instances = WholeSetting(block, "instances", 1, "a whole number, e.g. `instances 2`");
        if (block["instances"] is null)
        {
            Missing(block.Span, owner, "instances");
        }

        ParallelPlan? parallel = null;
        if (block["parallel"] is { } parallelSetting)
        {
            Read(parallelSetting, "`parallel { dp N tp N ep N }`", allowBlock: true).End();
            if (ChildBlock(parallelSetting, "parallel", "`parallel { dp N tp N ep N }`") is { } p)
            {
                parallel = BindParallel(p);
            }
        }
        else
        {
            Missing(block.Span, owner, "parallel");
        }

        Sourced<int>? maxBatchTokens = null;
        Sourced<int>? maxBatch = null;
        Sourced<int>? context = null;
        MtpPlan? mtp = null;
        var mtpFailed = false;
        if (role != PoolRole.Decode)
        {
            // Serve: the chunked-prefill budget the decode batch and a prompt chunk share each step.
            maxBatchTokens = PerDevice(block, "max_batch_tokens", role == PoolRole.Serve
                ? "tokens per step per device (decode batch + prefill chunk), e.g. `max_batch_tokens 2048 per device`"
                : "tokens per device, e.g. `max_batch_tokens 16384 per device`");
            if (block["max_batch_tokens"] is null)
            {
                Missing(block.Span, owner, "max_batch_tokens");
            }
        }

        if (role != PoolRole.Prefill)
        {
            maxBatch = PerDevice(block, "max_batch", "sequences per device, e.g. `max_batch 128 per device`");
            if (block["max_batch"] is null)
            {
                Missing(block.Span, owner, "max_batch");
            }

            context = WholeSetting(block, "context", 1, "tokens of KV per sequence, e.g. `context 8192`");
            if (block["context"] is null)
            {
                Missing(block.Span, owner, "context");
            }

            if (block["mtp"] is { } mtpSetting)
            {
                var usage = "`mtp off` or `mtp { draft_tokens 1 acceptance 0.8 }`";
                var r = Read(mtpSetting, usage, allowBlock: true);
                if (r.TryWord("off"))
                {
                    r.End();
                    if (mtpSetting.Block is not null)
                    {
                        _diagnostics.Add(DiagnosticCodes.UnexpectedBlock.Create(mtpSetting.Block.Range.In(_file), "mtp off", "does not take a block"));
                    }
                }
                else
                {
                    r.End();
                    mtpFailed = r.Failed;
                    if (ChildBlock(mtpSetting, "mtp", usage) is { } m)
                    {
                        mtp = BindMtp(m);
                    }

                    mtpFailed |= mtp is null;
                }
            }
        }

        var overlap = SwitchSetting(block, "microbatch_overlap", false);
        if (instances is not { } i || parallel is null || overlap is not { } o || mtpFailed)
        {
            return null;
        }

        return new PoolPlan(role, block.Span, i, parallel, maxBatchTokens, maxBatch, context, mtp, o);
    }

    private ParallelPlan? BindParallel(SettingsBlock block)
    {
        var dp = WholeSetting(block, "dp", 1, "a whole number, e.g. `dp 32`");
        var tp = WholeSetting(block, "tp", 1, "a whole number, e.g. `tp 8`");
        var ep = WholeSetting(block, "ep", 1, "a whole number, e.g. `ep 32`");
        if (block["dp"] is null && block["tp"] is null)
        {
            Missing(block.Span, "parallel", "dp` or `tp");
            return null;
        }

        if ((block["dp"] is not null && dp is null) || (block["tp"] is not null && tp is null) || (block["ep"] is not null && ep is null))
        {
            return null;
        }

        var d = dp ?? new Sourced<int>(1, block.Span, IsDefault: true);
        var t = tp ?? new Sourced<int>(1, block.Span, IsDefault: true);

        // Experts spread over every rank of the instance unless said otherwise (vLLM: EP = DP x TP).
        var e = ep ?? new Sourced<int>(d.Value * t.Value, block.Span, IsDefault: true);
        return new ParallelPlan(block.Span, d, t, e);
    }

    private MtpPlan? BindMtp(SettingsBlock block)
    {
        var draft = WholeSetting(block, "draft_tokens", 1, "a whole number, e.g. `draft_tokens 1`");
        Sourced<double>? acceptance = null;
        if (block["acceptance"] is { } s)
        {
            var r = Read(s, "a fraction, e.g. `acceptance 0.8` or `acceptance 80%`");
            acceptance = r.Number(0, 1, "between 0 and 1 (or 0% and 100%)");
            r.End();
        }
        else
        {
            Missing(block.Span, "mtp", "acceptance");
        }

        if (block["draft_tokens"] is null)
        {
            Missing(block.Span, "mtp", "draft_tokens");
        }

        return draft is { } d && acceptance is { } a ? new MtpPlan(block.Span, d, a) : null;
    }

    private PlacementPlan? BindPlacement(SettingsBlock block)
    {
        var failed = false;
        var algorithm = new Sourced<string>("moeplan", block.Span, IsDefault: true);
        if (block["algorithm"] is { } algorithmSetting)
        {
            var r = Read(algorithmSetting, "a placement algorithm, e.g. `algorithm moeplan`");
            var word = r.Word("placement algorithm", PlacementAlgorithms);
            r.End();
            failed |= word is null;
            algorithm = word ?? algorithm;
        }

        var redundant = WholeSetting(block, "redundant_experts", 0, "a whole number, e.g. `redundant_experts 32`")
            ?? new Sourced<int>(0, block.Span, IsDefault: true);
        failed |= block["redundant_experts"] is not null && redundant.IsDefault;

        LoadSource loads = new SyntheticLoadSource(block.Span, 0);
        if (block["loads"] is { } loadSetting)
        {
            var r = Read(loadSetting, "a file, `loads \"loads.json\"`, or `loads synthetic seed 42`");
            if (r.TryWord("synthetic"))
            {
                long seed = 0;
                if (r.TryWord("seed"))
                {
                    var value = r.Whole(0);
                    failed |= value is null;
                    seed = value?.Value ?? 0;
                }

                loads = new SyntheticLoadSource(loadSetting.Range.In(_file), seed);
            }
            else
            {
                var path = r.String();
                failed |= path is null;
                if (path is { } p)
                {
                    loads = new FileLoadSource(p.Span, p.Value);
                }
            }

            r.End();
            failed |= r.Failed;
        }

        Sourced<string>? loadsOverTime = null;
        if (block["loads_over_time"] is { } windowsSetting)
        {
            var r = Read(windowsSetting, "a load windows file, e.g. `loads_over_time \"data/drift.windows\"`");
            loadsOverTime = r.String();
            r.End();
            failed |= r.Failed || loadsOverTime is null;
        }

        RebalancePlan? rebalance = null;
        if (block["rebalance"] is { } rebalanceSetting)
        {
            rebalance = BindRebalance(rebalanceSetting);
            failed |= rebalance is null;
        }

        var uneven = SwitchSetting(block, "uneven", false);
        var perExpert = WholeSetting(block, "max_redundant_per_expert", 1, "a whole number, e.g. `max_redundant_per_expert 4`");
        var perDevice = WholeSetting(block, "max_redundant_per_device", 0, "a whole number, e.g. `max_redundant_per_device 2`");
        return failed || uneven is not { } u
            ? null
            : new PlacementPlan(block.Span, algorithm, redundant, loads, u, perExpert, perDevice) { LoadsOverTime = loadsOverTime, Rebalance = rebalance };
    }

    /// <summary>Algorithms a rebalance may run: <c>eplb</c> (DeepSeek's EPLB as SGLang runs it: eplb-hierarchical, global when the groups do not divide over the nodes) and every placement algorithm.</summary>
    public static ImmutableArray<string> RebalanceAlgorithms => ["eplb", .. PlacementAlgorithms];

    private RebalancePlan? BindRebalance(SettingSyntax setting)
    {
        var r = Read(setting, "`rebalance off`, `rebalance every 60s` or `rebalance when imbalance > 1.3`, optionally followed by `with eplb` or `with moeplan`");
        var span = setting.Range.In(_file);
        if (r.TryWord("off"))
        {
            r.End();
            return r.Failed ? null : new RebalancePlan(span, RebalanceTrigger.Off, null, null, null);
        }

        Sourced<double>? interval = null;
        Sourced<double>? threshold = null;
        RebalanceTrigger trigger;
        if (r.TryWord("every"))
        {
            trigger = RebalanceTrigger.Periodic;
            interval = r.Quantity(Dimension.Duration);
            if (interval is { } i && !(i.Value >= RebalancePlan.MinimumIntervalMilliseconds))
            {
                // Each rebalance stalls the pool and is a placement solve: a 1 ms interval would only multiply both.
                _diagnostics.Add(DiagnosticCodes.OutOfRange.CreateWithHint(i.Span,
                    "a rebalance moves weights for seconds (about 1.8 s reported for SGLang); use `rebalance every 10s` or longer, or `rebalance when imbalance > X`",
                    "rebalance every", "at least 10s", $"{(i.Value / 1e3).ToString("0.######", CultureInfo.InvariantCulture)}s"));
                return null;
            }
        }
        else if (r.TryWord("when"))
        {
            trigger = RebalanceTrigger.Threshold;
            var what = r.Word("rebalance trigger", ["imbalance"]);
            var op = what is null ? null : r.Operator();
            if (op is { } o && o.Value != ">")
            {
                _diagnostics.Add(DiagnosticCodes.UnknownWord.Create(o.Span, o.Value, "comparison", "`>`", ""));
                return null;
            }

            // Imbalance is busiest rank / mean rank: 1 is perfect, so a threshold below 1 would always fire.
            threshold = op is null ? null : r.Number(1, 1e6, "1 or more (imbalance is the busiest rank's load over the mean)");
        }
        else
        {
            r.Word("rebalance", ["off", "every", "when"]);
            return null;
        }

        Sourced<string>? algorithm = null;
        if (r.TryWord("with"))
        {
            algorithm = r.Word("rebalance algorithm", RebalanceAlgorithms);
        }

        r.End();
        if (r.Failed || (trigger == RebalanceTrigger.Periodic && interval is null) || (trigger == RebalanceTrigger.Threshold && threshold is null))
        {
            return null;
        }

        return new RebalancePlan(span, trigger, interval, threshold, algorithm);
    }

    private ProxyPlan? BindProxy(SettingsBlock block, Sourced<EngineKind>? engine, bool aggregated)
    {
        if (aggregated && block["mode"] is { } pdMode)
        {
            // The mode orders prefill and decode of a request on two instances; one aggregated instance does both in turn.
            _diagnostics.Add(DiagnosticCodes.DisaggregatedOnlySetting.CreateWithHint(pdMode.Name.Range.In(_file), "remove `mode`",
                    "mode", "orders a request's prefill and decode on two instances (sequential or parallel P/D)")
                .WithFix("Remove `mode`", new TextEdit(pdMode.Range.In(_file), "")));
            return null;
        }

        // Parallel P/D suits SGLang (KV pushed layer by layer to a pre-allocated decode), sequential suits vLLM.
        var defaultMode = engine?.Value == EngineKind.Sglang ? ProxyMode.Parallel : ProxyMode.Sequential;
        var mode = new Sourced<ProxyMode>(defaultMode, block.Span, IsDefault: true);
        var failed = false;
        if (block["mode"] is { } modeSetting)
        {
            var r = Read(modeSetting, "`mode sequential` or `mode parallel`");
            var word = r.Word("proxy mode", ["sequential", "parallel"]);
            r.End();
            failed |= word is null;
            if (word is { } w)
            {
                mode = new Sourced<ProxyMode>(w.Value == "parallel" ? ProxyMode.Parallel : ProxyMode.Sequential, w.Span);
            }
        }

        var policy = new Sourced<string>(RoutingPolicyCatalog.DefaultName, block.Span, IsDefault: true);
        Sourced<string>? script = null;
        if (block["policy"] is { } policySetting)
        {
            var r = Read(policySetting, "a policy name, e.g. `policy omni`, or `policy script \"schedulers/x.csx\"`");
            if (r.TryWord(RoutingPolicyCatalog.ScriptName))
            {
                script = r.String();
                failed |= script is null;
                policy = new Sourced<string>(RoutingPolicyCatalog.ScriptName, policySetting.Range.In(_file));
            }
            else
            {
                var word = r.Word("proxy policy", RoutingPolicyCatalog.BuiltNames);
                failed |= word is null;
                policy = word ?? policy;
            }

            r.End();
            failed |= r.Failed;
        }

        var apc = SwitchSetting(block, "apc", true);
        var reuse = SwitchSetting(block, "tokenizer_reuse", true);
        var workers = WholeSetting(block, "workers", 1, "a whole number of proxy worker processes, e.g. `workers 4`");
        failed |= block["workers"] is not null && workers is null;
        if (workers is { } many && many.Value > ProxyPlan.MaxWorkers)
        {
            // Each independent worker keeps its own view of every instance: bound them so a typo cannot exhaust memory.
            _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(many.Span, "workers", $"at most {ProxyPlan.MaxWorkers}", many.Value.ToString(CultureInfo.InvariantCulture)));
            failed = true;
        }
        Sourced<ProxyWorkerState>? workerState = null;
        if (block["worker_state"] is { } stateSetting)
        {
            var r = Read(stateSetting, "`worker_state shared` or `worker_state independent`");
            var word = r.Word("worker state", ["shared", "independent"]);
            r.End();
            failed |= word is null || r.Failed;
            if (word is { } w)
            {
                workerState = new Sourced<ProxyWorkerState>(w.Value == "independent" ? ProxyWorkerState.Independent : ProxyWorkerState.Shared, w.Span);
            }
        }

        return failed || apc is not { } a || reuse is not { } t ? null : new ProxyPlan(block.Span, mode, policy, script, a, t, workers, workerState);
    }

    private SloPlan? BindSlo(SettingsBlock block)
    {
        SloTarget? Target(string name)
        {
            if (block[name] is not { } s)
            {
                return null;
            }

            var r = Read(s, $"a statistic, `<` and a duration, e.g. `{name} p99 < {(name == "ttft" ? "2s" : "50ms")}`");
            var statistic = r.AnyWord();
            var op = r.Operator();
            var limit = r.Quantity(Dimension.Duration);
            r.End();
            if (statistic is not { } st || op is not { } o || limit is not { } l)
            {
                return null;
            }

            double percentile = 0;
            if (st.Value != "mean" && !(st.Value.StartsWith('p') &&
                double.TryParse(st.Value[1..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out percentile) &&
                percentile > 0 && percentile < 100))
            {
                _diagnostics.Add(DiagnosticCodes.UnknownWord.Create(st.Span, st.Value, "statistic", "`mean` or a percentile such as `p50`, `p90`, `p99`", ""));
                return null;
            }

            if (l.Value <= 0)
            {
                _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(l.Span, name, "a positive duration", l.Value.ToString("0.####", CultureInfo.InvariantCulture)));
                return null;
            }

            return new SloTarget(s.Range.In(_file), percentile, l.Value, o.Value == "<=");
        }

        return new SloPlan(block.Span, Target("ttft"), Target("tpot"));
    }

    private WorkloadPlan? BindWorkload(SettingsBlock block)
    {
        var failed = false;
        TraceSource? trace = null;
        if (block["trace"] is { } traceSetting)
        {
            var r = Read(traceSetting, "a file and its format, e.g. `trace \"mooncake.jsonl\" format mooncake`");
            var path = r.String();
            Sourced<string>? format = null;
            if (!r.Failed && r.TryWord("format"))
            {
                format = r.Word("trace format", ["mooncake", "azure"]);
            }
            else if (!r.Failed)
            {
                _diagnostics.Add(DiagnosticCodes.WrongArguments.Create(traceSetting.Range.In(_file), "trace", "a file and its format, e.g. `trace \"mooncake.jsonl\" format mooncake`"));
            }

            r.End();
            if (path is { } p && format is { } f)
            {
                trace = new TraceSource(traceSetting.Range.In(_file), p.Value, f.Value == "azure" ? TraceFormat.Azure : TraceFormat.Mooncake);
            }
            else
            {
                failed = true;
            }
        }

        ArrivalPlan? arrivals = null;
        if (block["arrivals"] is { } arrivalSetting)
        {
            var r = Read(arrivalSetting, "a process and a rate, e.g. `arrivals poisson 200/s`");
            var process = r.Word("arrival process", ["poisson", "constant"]);
            var rate = r.Quantity(Dimension.Rate);
            r.End();
            if (rate is { } rt && rt.Value <= 0)
            {
                _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(rt.Span, "arrivals", "a positive rate", rt.Value.ToString("0.####", CultureInfo.InvariantCulture)));
                rate = null;
            }

            if (process is { } pr && rate is { } ra)
            {
                arrivals = new ArrivalPlan(arrivalSetting.Range.In(_file), pr.Value == "poisson" ? ArrivalProcess.Poisson : ArrivalProcess.Constant, ra.Value);
            }
            else
            {
                failed = true;
            }
        }

        var input = Distribution(block, "input", ref failed);
        var output = Distribution(block, "output", ref failed);
        Sourced<double> prefixShare = new(0, block.Span, IsDefault: true);
        if (block["prefix_share"] is { } shareSetting)
        {
            var r = Read(shareSetting, "a fraction, e.g. `prefix_share 0.5` or `prefix_share 50%`");
            var share = r.Number(0, 1, "between 0 and 1 (or 0% and 100%)");
            r.End();
            failed |= share is null;
            prefixShare = share ?? prefixShare;
        }

        var requests = WholeSetting(block, "requests", 1, "a whole number, e.g. `requests 10000`");
        failed |= block["requests"] is not null && requests is null;
        var seedValue = WholeSetting(block, "seed", 0, "a whole number, e.g. `seed 42`");
        failed |= block["seed"] is not null && seedValue is null;
        var seed = seedValue is { } sv ? new Sourced<long>(sv.Value, sv.Span) : new Sourced<long>(0, block.Span, IsDefault: true);

        if (trace is not null && (block["arrivals"] is not null || block["input"] is not null || block["output"] is not null))
        {
            _diagnostics.Add(DiagnosticCodes.ConflictingSettings.Create(block.Span,
                "a workload is either a `trace` or synthetic (`arrivals`, `input`, `output`), not both"));
            return null;
        }

        if (block["trace"] is null)
        {
            foreach (var needed in new[] { "arrivals", "input", "output" })
            {
                if (block[needed] is null)
                {
                    Missing(block.Span, "workload", needed);
                    failed = true;
                }
            }
        }

        return failed ? null : new WorkloadPlan(block.Span, trace, arrivals, input, output, prefixShare, requests, seed);
    }

    private LengthDistribution? Distribution(SettingsBlock block, string name, ref bool failed)
    {
        if (block[name] is not { } s)
        {
            return null;
        }

        var usage = $"`{name} fixed 512`, `{name} uniform {{ min 128 max 4096 }}` or `{name} lognormal {{ mean 2048 sd 1024 }}`";
        var r = Read(s, usage, allowBlock: true);
        var kind = r.Word("length distribution", ["fixed", "uniform", "lognormal"]);
        if (kind is not { } k)
        {
            failed = true;
            return null;
        }

        if (k.Value == "fixed")
        {
            var tokens = r.Whole(1);
            r.End();
            if (s.Block is not null)
            {
                _diagnostics.Add(DiagnosticCodes.UnexpectedBlock.Create(s.Block.Range.In(_file), $"{name} fixed", "does not take a block"));
                failed = true;
                return null;
            }

            failed |= tokens is null;
            return tokens is { } t ? new FixedLength(s.Range.In(_file), t.Value) : null;
        }

        r.End();
        if (r.Failed || ChildBlock(s, "distribution", usage) is not { } child)
        {
            failed = true;
            return null;
        }

        var min = WholeSetting(child, "min", 1, "a whole number of tokens, e.g. `min 128`");
        var max = WholeSetting(child, "max", 1, "a whole number of tokens, e.g. `max 4096`");
        var span = s.Range.In(_file);
        if (k.Value == "uniform")
        {
            if (child["mean"] is { } extra1 || child["sd"] is { } extra2)
            {
                _diagnostics.Add(DiagnosticCodes.ConflictingSettings.Create(child.Span, "a uniform distribution takes `min` and `max` only"));
                failed = true;
                return null;
            }

            if (min is not { } lo || max is not { } hi)
            {
                if (child["min"] is null)
                {
                    Missing(child.Span, $"{name} uniform", "min");
                }

                if (child["max"] is null)
                {
                    Missing(child.Span, $"{name} uniform", "max");
                }

                failed = true;
                return null;
            }

            if (hi.Value < lo.Value)
            {
                _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(hi.Span, "max", $"at least min ({lo.Value})", hi.Value));
                failed = true;
                return null;
            }

            return new UniformLength(span, lo.Value, hi.Value);
        }

        Sourced<double>? Positive(string setting)
        {
            if (child[setting] is not { } c)
            {
                Missing(child.Span, $"{name} lognormal", setting);
                return null;
            }

            var cr = Read(c, $"a number of tokens, e.g. `{setting} 1024`");
            var v = cr.Number(double.Epsilon, double.MaxValue, "positive");
            cr.End();
            return v;
        }

        var mean = Positive("mean");
        var sd = Positive("sd");
        if (mean is not { } m || sd is not { } d || (child["min"] is not null && min is null) || (child["max"] is not null && max is null))
        {
            failed = true;
            return null;
        }

        return new LogNormalLength(span, m.Value, d.Value, min?.Value, max?.Value);
    }

    private Sourced<int>? PerDevice(SettingsBlock block, string name, string usage)
    {
        if (block[name] is not { } s)
        {
            return null;
        }

        var r = Read(s, usage);
        var value = r.Whole(1);
        if (r.TryWord("per"))
        {
            r.Word("unit of the limit", ["device"]);
        }

        r.End();
        return r.Failed ? null : value;
    }

    private Sourced<int>? WholeSetting(SettingsBlock block, string name, int min, string usage)
    {
        if (block[name] is not { } s)
        {
            return null;
        }

        var r = Read(s, usage);
        var value = r.Whole(min);
        r.End();
        return r.Failed ? null : value;
    }

    private Sourced<double>? QuantitySetting(SettingsBlock block, string name, Dimension dimension, string usage)
    {
        if (block[name] is not { } s)
        {
            return null;
        }

        var r = Read(s, usage);
        var value = r.Quantity(dimension);
        r.End();
        if (value is { } v && v.Value <= 0)
        {
            _diagnostics.Add(DiagnosticCodes.OutOfRange.Create(v.Span, name, "positive", v.Value.ToString("0.####", CultureInfo.InvariantCulture)));
            return null;
        }

        return r.Failed ? null : value;
    }

    private Sourced<bool>? SwitchSetting(SettingsBlock block, string name, bool defaultValue)
    {
        if (block[name] is not { } s)
        {
            return new Sourced<bool>(defaultValue, block.Span, IsDefault: true);
        }

        var r = Read(s, $"`{name} on` or `{name} off`");
        var value = r.Switch();
        r.End();
        return r.Failed ? null : value;
    }

    private static EngineKind ParseEngine(string word) => word switch
    {
        "vllm" => EngineKind.Vllm,
        "sglang" => EngineKind.Sglang,
        _ => EngineKind.OmniInfer,
    };

    public static NumericFormat ParseFormat(string word) => word.ToLowerInvariant() switch
    {
        "fp8" => NumericFormat.Fp8,
        "int8" => NumericFormat.Int8,
        "nvfp4" => NumericFormat.Nvfp4,
        "mxfp4" => NumericFormat.Mxfp4,
        _ => NumericFormat.Bf16,
    };
}

using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using MoePlan.Scheduling;
using MoePlan.Scheduling.Confinement;
using static MoePlan.Scripting.Isolation.ScriptHostProtocol;

namespace MoePlan.Scripting.Isolation;

/// <summary>
/// The script host's side (runs in the child process, <c>MoePlan.ScriptHost</c>): loads the image, and for each call
/// builds the views from the message (copies: nothing the script does to them reaches the host), runs the hook within
/// the budget and answers with the value or the failure (its kind, the script line it left from, the exception's type
/// name and message, read here within the budget). A stack overflow or a hang ends this process, not the host's.
/// </summary>
public static class ScriptHostServer
{
    /// <summary>Serves calls until the host closes standard input; 0 then, 2 for a broken message.</summary>
    public static int Run(Stream input, Stream output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var reader = new BinaryReader(new BufferedStream(input, 1 << 16));
        using var writer = new BinaryWriter(new BufferedStream(output, 1 << 16));
        try
        {
            if (reader.ReadByte() != Start)
            {
                return 2;
            }

            var pe = reader.ReadBytes(reader.ReadInt32());
            var pdb = reader.ReadBytes(reader.ReadInt32());
            var budget = new ScriptBudgetOptions(TimeSpan.FromMilliseconds(reader.ReadDouble()), reader.ReadInt64(), reader.ReadInt64());
            var orphanLimit = TimeSpan.FromMilliseconds(reader.ReadDouble());
            var session = new Session(ScriptImage.Load(pe, pdb), budget, reader, writer);
            WarmFailurePath();
            session.GuardAgainstOrphanHang(orphanLimit);
            writer.Write(Ready);
            writer.Flush();
            while (true)
            {
                if (reader.ReadByte() != Call)
                {
                    return 2;
                }

                session.Serve((Hook)reader.ReadByte());
            }
        }
        catch (EndOfStreamException)
        {
            return 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Loads and compiles the failure path (an exception's stack trace with file lines reads symbols) before the first
    /// call, whose deadline it would otherwise eat into on a loaded machine.
    /// </summary>
    private static void WarmFailurePath()
    {
        try
        {
            throw new InvalidOperationException("warm-up");
        }
        catch (InvalidOperationException e)
        {
            _ = new StackTrace(e, fNeedFileInfo: true).GetFrames().Select(f => f.GetFileLineNumber()).Sum();
        }
    }

    private sealed class Session(ScriptImage image, ScriptBudgetOptions budget, BinaryReader reader, BinaryWriter writer)
    {
        private Scheduler? _scheduler;
        private long _callStarted;

        /// <summary>
        /// The host kills a call that overruns; should the host itself be gone (killed mid-call), this process
        /// must not spin for ever: a call running past <paramref name="limit"/> ends it.
        /// </summary>
        public void GuardAgainstOrphanHang(TimeSpan limit)
        {
            var guard = new Thread(() =>
            {
                while (true)
                {
                    Thread.Sleep(100);
                    long started = Interlocked.Read(ref _callStarted);
                    if (started != 0 && Stopwatch.GetElapsedTime(started) > limit)
                    {
                        Environment.Exit(3);
                    }
                }
            })
            { IsBackground = true, Name = "orphan guard" };
            guard.Start();
        }

        public void Serve(Hook hook)
        {
            switch (hook)
            {
                case Hook.Create:
                    Guarded(
                        () => _scheduler = image.Create(),
                        s =>
                        {
                            if (s is null)
                            {
                                WriteFailure(FailureKind.NoScheduler, 0, "", "null");
                                return;
                            }

                            writer.Write(Value);
                            writer.Write(Overrides(s));
                        });
                    break;
                case Hook.Admit:
                    {
                        var (cluster, requests) = ReadCall(1);
                        Guarded(() => Made().Admit(requests[0], cluster), v => { writer.Write(Value); writer.Write(v); });
                        break;
                    }

                case Hook.ChoosePrefill:
                    {
                        var (cluster, requests) = ReadCall(1);
                        Guarded(() => Made().ChoosePrefill(requests[0], cluster), v => { writer.Write(Value); writer.Write(v); });
                        break;
                    }

                case Hook.ChooseDecode:
                    {
                        var (cluster, requests) = ReadCall(1);
                        Guarded(() => Made().ChooseDecode(requests[0], cluster), v => { writer.Write(Value); writer.Write(v); });
                        break;
                    }

                case Hook.PrefillPriority:
                    {
                        var cluster = ReadCluster();
                        int instance = reader.ReadInt32();
                        var requests = ReadRequests(cluster, reader.ReadInt32());
                        var defaults = new double[requests.Length];
                        for (int i = 0; i < defaults.Length; i++)
                        {
                            defaults[i] = reader.ReadDouble();
                        }

                        var queue = new PrefillQueueView(instance, [.. requests], cluster.NowMilliseconds);
                        cluster.Queue = (queue, defaults);
                        var values = new double[requests.Length];
                        // One budget for the whole queue: the ordering is one decision. The loop reads this array, not
                        // the queue the script sees.
                        Guarded(
                            () =>
                            {
                                var s = Made();
                                for (int i = 0; i < requests.Length; i++)
                                {
                                    values[i] = s.PrefillPriority(requests[i], queue, cluster);
                                }

                                return values;
                            },
                            v =>
                            {
                                writer.Write(Value);
                                foreach (var x in v)
                                {
                                    writer.Write(x);
                                }
                            });
                        break;
                    }

                default:
                    throw new EndOfStreamException("unknown hook");
            }

            writer.Flush();
        }

        /// <summary>
        /// The hooks the script overrides, one bit per <see cref="Hook"/>: the host decides the others itself (they
        /// are the default policy's), which spares a message per decision. Reflection on the type: no script code runs.
        /// </summary>
        private static byte Overrides(Scheduler scheduler)
        {
            byte mask = 0;
            foreach (var (hook, name) in new[] { (Hook.Admit, nameof(Scheduler.Admit)), (Hook.ChoosePrefill, nameof(Scheduler.ChoosePrefill)), (Hook.ChooseDecode, nameof(Scheduler.ChooseDecode)), (Hook.PrefillPriority, nameof(Scheduler.PrefillPriority)) })
            {
                var declared = typeof(Scheduler).GetMethod(name)!;
                var actual = scheduler.GetType().GetMethod(name, [.. declared.GetParameters().Select(p => p.ParameterType)]);
                if (actual is null || actual.DeclaringType != typeof(Scheduler))
                {
                    mask |= (byte)(1 << (int)hook);
                }
            }

            return mask;
        }

        private Scheduler Made() => _scheduler ?? throw new InvalidOperationException("the host called a hook before the scheduler was made");

        private (ClusterCopy Cluster, RequestCopy[] Requests) ReadCall(int requests)
        {
            var cluster = ReadCluster();
            return (cluster, ReadRequests(cluster, requests));
        }

        /// <summary>
        /// Runs script code within the budget. The failure's message is read (a script exception's Message is script
        /// code) before the budget closes, and a stop the script caught still fails the call.
        /// </summary>
        private void Guarded<T>(Func<T> call, Action<T> write)
        {
            Interlocked.Exchange(ref _callStarted, Stopwatch.GetTimestamp());
            ScriptBudget.Open(budget.PerCall, budget.AllocationBytes, budget.MaxElements);
            try
            {
                T value = call();
                if (ScriptBudget.Stopped is { } swallowed)
                {
                    WriteFailure(swallowed);
                    return;
                }

                write(value);
            }
            catch (Exception e)
            {
                WriteFailure(ScriptBudget.Stopped ?? e);
            }
            finally
            {
                ScriptBudget.Close();
                Interlocked.Exchange(ref _callStarted, 0);
            }
        }

        private void WriteFailure(Exception e)
        {
            int line = image.LineOf(e);
            switch (e)
            {
                case ScriptBudgetExceededException stop:
                    WriteFailure(stop.Limit switch { BudgetLimit.Stack => FailureKind.Stack, BudgetLimit.Memory => FailureKind.Memory, _ => FailureKind.Time }, line, "", stop.Message);
                    return;
                case OutOfMemoryException:
                    WriteFailure(FailureKind.Memory, line, "", "ran out of the script host's memory");
                    return;
                case InsufficientExecutionStackException:
                    WriteFailure(FailureKind.Stack, line, "", "recursed too deeply (the stack is nearly used up)");
                    return;
            }

            string message;
            try
            {
                // A script's own exception type may override Message: script code, still within the budget.
                message = e.Message;
            }
            catch (Exception inner)
            {
                message = $"(its Message could not be read: {inner.GetType().Name})";
            }

            WriteFailure(FailureKind.Threw, line, e.GetType().Name, message ?? "");
        }

        private void WriteFailure(FailureKind kind, int line, string type, string message)
        {
            writer.Write(Failure);
            writer.Write((byte)kind);
            writer.Write(line);
            writer.Write(type);
            // A message of any length is cut: the host prints it in one diagnostic.
            writer.Write(message.Length > 500 ? message[..500] + "..." : message);
        }

        private ClusterCopy ReadCluster()
        {
            var c = new ClusterCopy(this)
            {
                NowMilliseconds = reader.ReadDouble(),
                ApcAware = reader.ReadBoolean(),
                BlockTokens = reader.ReadInt32(),
                TtftSloMilliseconds = reader.ReadDouble(),
                ProxyHeldRequests = reader.ReadInt32(),
                ProxyHeldTokens = reader.ReadInt64(),
            };
            var prefill = new IPrefillInstanceView[reader.ReadInt32()];
            for (int i = 0; i < prefill.Length; i++)
            {
                prefill[i] = new PrefillCopy(i, reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadBoolean(), ReadList());
            }

            var decode = new IDecodeInstanceView[reader.ReadInt32()];
            for (int i = 0; i < decode.Length; i++)
            {
                decode[i] = new DecodeCopy(c, i, reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble(), reader.ReadInt32(), reader.ReadDouble(), reader.ReadBoolean(), ReadList());
            }

            c.Prefill = Array.AsReadOnly(prefill);
            c.Decode = Array.AsReadOnly(decode);
            return c;
        }

        private RequestCopy[] ReadRequests(ClusterCopy cluster, int count)
        {
            var requests = new RequestCopy[count];
            for (int i = 0; i < count; i++)
            {
                var r = new RequestCopy(cluster, i)
                {
                    Id = reader.ReadInt64(),
                    InputTokens = reader.ReadInt32(),
                    OutputTokens = reader.ReadInt32(),
                    ArrivalMilliseconds = reader.ReadDouble(),
                    PromptBlocks = reader.ReadInt32(),
                    PrefillInstance = reader.ReadInt32(),
                    DecodeInstance = reader.ReadInt32(),
                };
                for (int s = 0; s < Stages; s++)
                {
                    r.Stamps[s] = reader.ReadDouble();
                }

                requests[i] = r;
            }

            cluster.Requests = requests;
            return requests;
        }

        private IReadOnlyList<double> ReadList()
        {
            var values = new double[reader.ReadInt32()];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = reader.ReadDouble();
            }

            return Array.AsReadOnly(values);
        }

        /// <summary>Asks the host during a call (a value only the host's state can give); answered at once.</summary>
        public int Ask(Query query, int request, int argument)
        {
            writer.Write(ScriptHostProtocol.Ask);
            writer.Write((byte)query);
            writer.Write(request);
            writer.Write(argument);
            writer.Flush();
            if (reader.ReadByte() != Answer)
            {
                throw new EndOfStreamException("the host did not answer");
            }

            return reader.ReadInt32();
        }
    }

    /// <summary>The call's cluster: a copy made from the message. Its defaults ask the host (omni's rules on its state).</summary>
    private sealed class ClusterCopy(Session session) : IClusterState, IDefaultDecisions
    {
        public double NowMilliseconds { get; init; }

        public bool ApcAware { get; init; }

        public int BlockTokens { get; init; }

        public double TtftSloMilliseconds { get; init; }

        public int ProxyHeldRequests { get; init; }

        public long ProxyHeldTokens { get; init; }

        public IReadOnlyList<IPrefillInstanceView> Prefill { get; set; } = [];

        public IReadOnlyList<IDecodeInstanceView> Decode { get; set; } = [];

        public IDefaultDecisions Defaults => this;

        public RequestCopy[] Requests { get; set; } = [];

        /// <summary>The queue being ordered and the host's default priority of each of its requests.</summary>
        public (PrefillQueueView Queue, double[] Priorities)? Queue { get; set; }

        public int ChoosePrefill(IRequestView request) => session.Ask(Query.DefaultPrefill, Index(request), 0);

        public int ChooseDecode(IRequestView request) => session.Ask(Query.DefaultDecode, Index(request), 0);

        public double PrefillPriority(IRequestView request, IPrefillQueueView queue) =>
            Queue is { } q && ReferenceEquals(q.Queue, queue)
                ? q.Priorities[Index(request)]
                : throw new ArgumentException("the default priority is known for the requests of the queue being ordered", nameof(queue));

        public int Ask(Query query, IRequestView request, int argument) => session.Ask(query, Index(request), argument);

        /// <summary>The request's position in the call, or ArgumentException for an object the call did not give.</summary>
        public int Index(IRequestView request) =>
            request is RequestCopy r && r.Cluster == this ? r.Position : throw new ArgumentException("not a request of this simulation", nameof(request));
    }

    private sealed class RequestCopy(ClusterCopy cluster, int position) : IRequestView
    {
        private int[]? _matched;

        public ClusterCopy Cluster => cluster;

        public int Position => position;

        public double[] Stamps { get; } = new double[Stages];

        public long Id { get; init; }

        public int InputTokens { get; init; }

        public int OutputTokens { get; init; }

        public double ArrivalMilliseconds { get; init; }

        public int PromptBlocks { get; init; }

        public int PrefillInstance { get; init; }

        public int DecodeInstance { get; init; }

        public int MatchedBlocks(int prefill)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(prefill);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(prefill, cluster.Prefill.Count);
            _matched ??= Enumerable.Repeat(-1, cluster.Prefill.Count).ToArray();
            if (_matched[prefill] < 0)
            {
                _matched[prefill] = cluster.Ask(Query.MatchedBlocks, this, prefill);
            }

            return _matched[prefill];
        }

        public double StageMilliseconds(RequestStage stage) =>
            (int)stage is >= 0 and < Stages ? Stamps[(int)stage] : throw new ArgumentOutOfRangeException(nameof(stage));
    }

    private sealed record PrefillCopy(int Index, int Requests, int Waiting, int RunningBatch, long QueuedTokens, int StepTokenCapacity, long CachedBlocks, long CacheCapacityBlocks, bool Busy, IReadOnlyList<double> RecentStepMilliseconds) : IPrefillInstanceView;

    private sealed record DecodeCopy(ClusterCopy Cluster, int Index, int Sequences, int RunningBatch, double ReservedTokens, int SequenceCapacity, double TokenCapacity, bool Busy, IReadOnlyList<double> RecentStepMilliseconds) : IDecodeInstanceView
    {
        public bool HasRoom(IRequestView request) => Cluster.Ask(Query.HasRoom, request, Index) != 0;
    }

    /// <summary>The script's image in this process: makes one scheduler per run; maps a failure to the script's line.</summary>
    private sealed class ScriptImage(Assembly assembly, MethodInfo factory)
    {
        public static ScriptImage Load(byte[] pe, byte[] pdb)
        {
            var assembly = new AssemblyLoadContext("moeplan-script").LoadFromStream(new MemoryStream(pe), new MemoryStream(pdb));
            // Roslyn's script entry point: a static <Factory>(object[] submissionArray) on the submission class.
            var factory = assembly.GetTypes().Select(t => t.GetMethod("<Factory>", BindingFlags.Public | BindingFlags.Static)).Single(m => m is not null)!;
            CompileAhead(assembly);
            return new ScriptImage(assembly, factory);
        }

        /// <summary>
        /// Compiles the script's own methods before the first call: each hook's first call would otherwise spend its
        /// time budget on the JIT, which on a loaded machine (seen: CI sharing 2 cores with builds) can exceed it.
        /// </summary>
        private static void CompileAhead(Assembly assembly)
        {
            const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var method in assembly.GetTypes().Where(t => !t.ContainsGenericParameters).SelectMany(t => t.GetMethods(declared)))
            {
                if (method.IsAbstract || method.ContainsGenericParameters)
                {
                    continue;
                }

                try
                {
                    System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(method.MethodHandle);
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or TypeLoadException)
                {
                    // Left to the first call's JIT, as before; the budget still bounds it.
                }
            }
        }

        /// <summary>Runs the script's top level (within the open budget); null when it makes no scheduler.</summary>
        public Scheduler? Create()
        {
            object? task;
            try
            {
                // Slot 0 is the globals object (none); the submission puts itself in slot 1.
                task = factory.Invoke(null, [new object?[2]]);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }

            var t = (Task<Scheduler>)task!;
            if (t.IsFaulted)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(t.Exception!.InnerException!).Throw();
            }

            return t.Result;
        }

        /// <summary>The script line the exception left from (the image carries the script's line numbers); 0 when none.</summary>
        public int LineOf(Exception e)
        {
            foreach (var frame in new StackTrace(e, fNeedFileInfo: true).GetFrames())
            {
                if (frame.GetMethod()?.Module.Assembly == assembly && frame.GetFileLineNumber() > 0)
                {
                    return frame.GetFileLineNumber();
                }
            }

            return 0;
        }
    }
}

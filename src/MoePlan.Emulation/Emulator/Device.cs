namespace MoePlan.Emulation.Emulator;

/// <summary>An emulated die: its AI cores and global memory. Cores run independently (each has its
/// own timelines and a fair share of HBM bandwidth), so the makespan is the latest core.</summary>
public sealed class Device
{
    private readonly AiCore[] _cores;

    public Device(DeviceSpec spec)
    {
        Spec = spec;
        Gm = new GlobalMemory(spec);
        _cores = new AiCore[spec.AiCores];
        for (int i = 0; i < _cores.Length; i++)
        {
            _cores[i] = new AiCore(this, i);
        }
    }

    public DeviceSpec Spec { get; }
    public GlobalMemory Gm { get; }
    public IReadOnlyList<AiCore> Cores => _cores;

    /// <summary>Cycle at which the last operation on any core completes.</summary>
    public double MakespanCycles => _cores.Max(c => c.MakespanCycles);

    public double MakespanMicroseconds => MakespanCycles / Spec.ClockHz * 1e6;

    /// <summary>Cores that executed at least one operation.</summary>
    public IEnumerable<AiCore> ActiveCores => _cores.Where(c => c.MakespanCycles > 0);

    /// <summary>Cube busy cycles over (all AI cores of the die x makespan): utilisation of the device,
    /// so idle cores count.</summary>
    public double CubeUtilization
    {
        get
        {
            var active = ActiveCores.ToList();
            double span = MakespanCycles;
            return active.Count == 0 || span <= 0 ? 0 : active.Sum(c => c.Cube.BusyCycles) / (Spec.AiCores * span);
        }
    }

    public double VectorUtilization
    {
        get
        {
            var active = ActiveCores.ToList();
            double span = MakespanCycles;
            return active.Count == 0 || span <= 0
                ? 0
                : active.Sum(c => c.Vector.Sum(v => v.BusyCycles)) / (Spec.AiCores * Spec.VectorUnitsPerCore * span);
        }
    }

    public double GmBandwidthUtilization
    {
        get
        {
            var active = ActiveCores.ToList();
            double span = MakespanCycles;
            return active.Count == 0 || span <= 0 ? 0 : active.Sum(c => c.GmBandwidth.BusyCycles) / (Spec.AiCores * span);
        }
    }
}

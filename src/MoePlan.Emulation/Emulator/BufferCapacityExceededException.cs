namespace MoePlan.Emulation.Emulator;

/// <summary>
/// A kernel asked an on-chip buffer for a tile that does not fit. This is a programming-contract
/// error of the kernel (its tiling is wrong), not a user-input diagnostic: kernels must plan tiles
/// that fit, so it is thrown rather than reported.
/// </summary>
public sealed class BufferCapacityExceededException : Exception
{
    public BufferCapacityExceededException(string bufferName, long requestedBytes, long inUseBytes, long capacityBytes)
        : base($"Tile of {requestedBytes} bytes does not fit buffer {bufferName}: {inUseBytes} of {capacityBytes} bytes already in use.")
    {
        BufferName = bufferName;
        RequestedBytes = requestedBytes;
        InUseBytes = inUseBytes;
        CapacityBytes = capacityBytes;
    }

    public string BufferName { get; }
    public long RequestedBytes { get; }
    public long InUseBytes { get; }
    public long CapacityBytes { get; }
}

namespace MoePlan.Emulation.Emulator;

/// <summary>Bit-level float helpers: BF16 rounding and the AMLA exponent add.</summary>
public static class FloatBits
{
    /// <summary>Rounds a float32 to the nearest BF16 value (ties to even), returned as float32.
    /// NaN stays NaN (quieted), infinities stay infinite, overflow rounds to infinity.</summary>
    public static float RoundToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F80_0000u) == 0x7F80_0000u && (bits & 0x007F_FFFFu) != 0)
        {
            return BitConverter.UInt32BitsToSingle((bits | 0x0040_0000u) & 0xFFFF_0000u);
        }

        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(rounded & 0xFFFF_0000u);
    }

    /// <summary>
    /// x * 2^shift done on the bit pattern, as AMLA's in-place rescale: int32(x) + (shift &lt;&lt; 23),
    /// with the hazards defined (a bare integer add would corrupt them):
    /// zero and subnormal x give a zero of the same sign (flush to zero: adding to an exponent field
    /// of 0 makes garbage); a result exponent &lt;= 0 (underflow) gives a zero of the same sign, never
    /// wrapping into the sign bit; NaN and infinities are returned unchanged; a result exponent
    /// &gt;= 255 (overflow) gives an infinity of the same sign.
    /// </summary>
    public static float AddToExponent(float x, int shift)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint sign = bits & 0x8000_0000u;
        int exponent = (int)((bits >> 23) & 0xFF);
        if (exponent == 0xFF)
        {
            return x;
        }

        if (exponent == 0)
        {
            return BitConverter.UInt32BitsToSingle(sign);
        }

        long newExponent = (long)exponent + shift;
        if (newExponent <= 0)
        {
            return BitConverter.UInt32BitsToSingle(sign);
        }

        if (newExponent >= 0xFF)
        {
            return BitConverter.UInt32BitsToSingle(sign | 0x7F80_0000u);
        }

        return BitConverter.UInt32BitsToSingle((bits & 0x807F_FFFFu) | ((uint)newExponent << 23));
    }

    /// <summary>The increment a hardware int32 atomic add would carry for a shift: shift &lt;&lt; 23,
    /// with the shift saturated to [-255, 255] (any |shift| &gt;= 255 already flushes or overflows).</summary>
    public static int ExponentIncrement(long shift) => (int)Math.Clamp(shift, -255, 255) << 23;

    /// <summary>Inverse of <see cref="ExponentIncrement"/>.</summary>
    public static int ShiftOfIncrement(int increment) => increment >> 23;
}

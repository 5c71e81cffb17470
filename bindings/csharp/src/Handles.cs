using System;
using System.Runtime.InteropServices;

namespace Ocrcloud
{
    // One SafeHandle per native type. P/Invoke holds a reference for the duration of each call,
    // so a Dispose on another thread frees the object only after running calls have returned.
    // The public parameterless constructors are what the marshaller (mono's too) needs.

    /// <summary>An <c>ocr_client *</c>, freed with <c>ocr_client_free</c>.</summary>
    internal sealed class ClientHandle : SafeHandle
    {
        public ClientHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_client_free(handle); return true; }
    }

    /// <summary>An <c>ocr_result *</c>, freed with <c>ocr_result_free</c>.</summary>
    internal sealed class ResultHandle : SafeHandle
    {
        public ResultHandle() : base(IntPtr.Zero, true) { }
        internal ResultHandle(IntPtr result) : base(IntPtr.Zero, true) { SetHandle(result); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_result_free(handle); return true; }
    }

    /// <summary>An <c>ocr_poll_options *</c>, freed with <c>ocr_poll_options_free</c>.</summary>
    internal sealed class PollOptionsHandle : SafeHandle
    {
        public PollOptionsHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_poll_options_free(handle); return true; }
    }

    /// <summary>An <c>ocr_call_options *</c>, freed with <c>ocr_call_options_free</c>.</summary>
    internal sealed class CallOptionsHandle : SafeHandle
    {
        public CallOptionsHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_call_options_free(handle); return true; }
    }

    /// <summary>An <c>ocr_cancel *</c>, freed with <c>ocr_cancel_free</c>.</summary>
    internal sealed class CancelHandle : SafeHandle
    {
        public CancelHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_cancel_free(handle); return true; }
    }

    /// <summary>
    /// An <c>ocr_batch *</c>, freed with <c>ocr_batch_free</c>. It holds a reference on its
    /// client's handle (<see cref="Client"/>, set once opened), released after the batch is freed.
    /// </summary>
    internal sealed class BatchHandle : SafeHandle
    {
        internal ClientHandle Client;
        public BatchHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.ocr_batch_free(handle); Client.DangerousRelease(); return true; }
    }
}

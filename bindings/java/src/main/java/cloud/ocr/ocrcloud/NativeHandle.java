package cloud.ocr.ocrcloud;

import com.sun.jna.PointerType;
import java.lang.ref.Cleaner;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Owns one native object of a public class. The object is freed once: after {@link #close()}
 * and after the last {@link #call} that uses it has returned, so closing while another thread is
 * inside a call never frees memory under it. If the owner is garbage-collected without being
 * closed, a {@link Cleaner} closes it (a safety net; {@code close()} is the way).
 */
final class NativeHandle<H extends PointerType> {
    private static final Cleaner CLEANER = Cleaner.create();

    private final State<H> state;
    private final Cleaner.Cleanable cleanable;

    NativeHandle(Object owner, String name, H handle, Consumer<H> free) {
        state = new State<>(name, handle, free);
        cleanable = CLEANER.register(owner, state::close);
    }

    /** Runs {@code body} with the handle; throws IllegalStateException once closed. */
    <T> T call(Function<H, T> body) {
        H handle = state.acquire();
        try {
            return body.apply(handle);
        } finally {
            state.release();
        }
    }

    /**
     * Holds the handle in use until {@link #release()}, as a {@link #call} would: an object that
     * borrows it (a batch borrows its client) keeps it from being freed. Throws
     * IllegalStateException once closed.
     */
    H acquire() {
        return state.acquire();
    }

    /** Ends one {@link #acquire()}. */
    void release() {
        state.release();
    }

    /** Idempotent. */
    void close() {
        cleanable.clean();
    }

    /** Kept apart from the owner so that the Cleaner does not keep the owner reachable. */
    private static final class State<H> {
        private final String name;
        private final H handle;
        private final Consumer<H> free;
        private int users;
        private boolean closed;

        State(String name, H handle, Consumer<H> free) {
            this.name = name;
            this.handle = handle;
            this.free = free;
        }

        synchronized H acquire() {
            if (closed) {
                throw new IllegalStateException(name + " is closed");
            }
            users++;
            return handle;
        }

        void release() {
            synchronized (this) {
                if (--users > 0 || !closed) {
                    return;
                }
            }
            free.accept(handle);
        }

        void close() {
            synchronized (this) {
                closed = true;
                if (users > 0) {
                    return;
                }
            }
            free.accept(handle);
        }
    }
}

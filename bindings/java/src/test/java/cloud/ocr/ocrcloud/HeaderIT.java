package cloud.ocr.ocrcloud;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import static cloud.ocr.ocrcloud.OcrLibrary.LIB;

/** The binding follows include/ocrcloud.h: every function, code, status and figure. */
class HeaderIT extends OcrTest {
    @Test
    void theBindingFollowsTheHeader() {
        Set<String> declared = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^[a-z][\\w ]*?\\**\\s*\\**(ocr_\\w+)\\(").matcher(header);
        while (m.find()) {
            declared.add(m.group(1));
        }
        check(declared.size() > 40, "functions found in the header: " + declared);
        Set<String> mapped = new TreeSet<>();
        for (Method method : OcrLibrary.class.getDeclaredMethods()) {
            mapped.add(method.getName());
        }
        declared.removeAll(mapped);
        equal(declared, Set.of());

        Map<String, Integer> codes = new TreeMap<>();
        for (OcrCode code : OcrCode.values()) {
            if (code != OcrCode.UNKNOWN) {
                codes.put(code.name(), code.value);
                equal(LIB.ocr_code_name(code.value), "OCR_ERR_" + code.name());
            }
        }
        equal(codes, defines("OCR_ERR_"));
        Map<String, Integer> statuses = new TreeMap<>();
        for (TaskStatus status : TaskStatus.values()) {
            statuses.put(status.name(), status.ordinal());
            equal(TaskStatus.of(status.ordinal()), status);
            equal(status.toString(), LIB.ocr_task_status_name(status.ordinal()));
        }
        equal(statuses, defines("OCR_TASK_"));
        Map<String, Integer> levels = new TreeMap<>();
        for (OcrLog.Level level : OcrLog.Level.values()) {
            levels.put(level.name(), level.ordinal());
        }
        equal(levels, defines("OCR_LOG_"));
        Matcher version = Pattern.compile("#define OCR_VERSION_STRING \"([^\"]+)\"").matcher(header);
        check(version.find(), "the header's version");
        equal(OcrClient.libraryVersion(), version.group(1));
        equal(OcrCode.of(15), OcrCode.TLS);
        equal(OcrCode.of(1000), OcrCode.UNKNOWN);
        equal(TaskStatus.of(42), TaskStatus.UNKNOWN);
    }

    /** The record follows the header's OCR_STAT_* values, in their order. */
    @Test
    void clientStatsFollowTheHeader() {
        Map<Integer, String> byValue = new TreeMap<>();
        for (Map.Entry<String, Integer> stat : defines("OCR_STAT_").entrySet()) {
            StringBuilder name = new StringBuilder();
            for (String word : stat.getKey().toLowerCase().split("_")) {
                name.append(name.length() == 0 ? word : Character.toUpperCase(word.charAt(0)) + word.substring(1));
            }
            byValue.put(stat.getValue(), name.toString());
        }
        List<String> components = new ArrayList<>();
        for (java.lang.reflect.RecordComponent c : ClientStats.class.getRecordComponents()) {
            components.add(c.getName());
        }
        equal(new ArrayList<>(byValue.keySet()), List.of(1, 2, 3, 4, 5, 6, 7));
        equal(new ArrayList<>(byValue.values()), components);
        equal(ClientStats.FIGURES, components.size());
    }
}
